import { join } from 'node:path';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { startMotoServer } from '../../test/support/moto-server';
import { startPodIdentityFront } from '../../test/support/pod-identity-front';
import { type MemoryUsage, runChild } from '../child';
import {
  BENCH_BOUNDARY_ARN,
  BENCH_DEPLOYMENT_REGION,
  CONFIG_READER,
  clusterName,
  SECRETS_READ_POLICY,
  seedFleet,
  UPLOADER_BINDING,
} from './fleet';
import type { ReconcileScenarioInput, ReconcileScenarioResult } from './scenario';

/**
 * A fleet in EKS Pod Identity mode: `clusters` clusters over eight regions, two pod-identity bindings
 * (one role each for the whole fleet, an association per cluster), beyond what IRSA mode can do in one
 * account (10,000 roles against IAM's 5,000-role ceiling). moto holds the clusters and IAM; the Pod
 * Identity fake in front of it serves the associations and add-ons (every cluster has the agent). The
 * first run creates the roles and the associations, the steady run finds nothing to do.
 */

export const POD_IDENTITY_REGIONS = [
  'us-east-1',
  'eu-west-1',
  'ap-southeast-2',
  'us-west-2',
  'eu-central-1',
  'ap-northeast-1',
  'ca-central-1',
  'sa-east-1',
];
const SCENARIO = join(__dirname, 'scenario.ts');
const STAGE = 'bench-pi';

export interface PodIdentityBenchOptions {
  sizes: number[];
  concurrency: number;
  log: (line: string) => void;
  onError: (part: string, error: unknown) => void;
}

export interface PodIdentityRun {
  /** `steady-sampled`: a steady run with podIdentity.verifyEveryRuns = SAMPLED_VERIFY_EVERY. */
  phase: 'first' | 'steady' | 'steady-sampled';
  wallMs: number;
  memory: MemoryUsage;
  apiCalls: Record<string, number>;
  counts: Record<string, number>;
  failed: boolean;
  failures: string[];
  /** EKS calls per cluster (ListClusters pages included), IAM calls, writes of any service. */
  eksCallsPerCluster: number;
  iamCalls: number;
  writes: number;
}

export interface PodIdentitySizeResult {
  clusters: number;
  regions: number;
  seedMs: number;
  runs: PodIdentityRun[];
  associations: number;
}

export function podIdentityBenchConfig(concurrency: number): Record<string, unknown> {
  return {
    regions: POD_IDENTITY_REGIONS,
    clusters: { include: ['*'] },
    permissionsBoundaryArn: BENCH_BOUNDARY_ARN,
    defaultMode: 'pod-identity',
    bindings: [UPLOADER_BINDING, { ...CONFIG_READER, policies: [SECRETS_READ_POLICY] }],
    concurrency,
  };
}

const WRITE = /:(Create|Update|Delete|Put|Tag|Untag|Attach|Detach)/;

/** The verification period of the sampled steady run (two-hour windows). */
export const SAMPLED_VERIFY_EVERY = 3;

export async function runPodIdentityBench(
  options: PodIdentityBenchOptions,
): Promise<PodIdentitySizeResult[]> {
  const results: PodIdentitySizeResult[] = [];
  for (const clusters of options.sizes) {
    const moto = await startMotoServer();
    try {
      const seeded = performance.now();
      const perRegion = await seedFleet(moto.endpoint, clusters, POD_IDENTITY_REGIONS);
      const seedMs = Math.round(performance.now() - seeded);
      options.log(`pod-identity ${clusters} clusters: fleet seeded in ${seedMs} ms`);
      const addons = Object.entries(perRegion).flatMap(([region, count]) =>
        Array.from(
          { length: count },
          (_, index) => `${region}/${clusterName(region, index)}/eks-pod-identity-agent`,
        ),
      );
      const front = await startPodIdentityFront(moto.endpoint, { addons, existenceCacheMs: 60 * 60_000 });
      try {
        const rawConfig = podIdentityBenchConfig(options.concurrency);
        parseReconcilerConfig(rawConfig, { stage: STAGE, deploymentRegion: BENCH_DEPLOYMENT_REGION });
        const runs: PodIdentityRun[] = [];
        for (const phase of ['first', 'steady', 'steady-sampled'] as const) {
          const input: ReconcileScenarioInput = {
            endpoint: moto.endpoint,
            eksEndpoint: front.endpoint,
            stage: STAGE,
            deploymentRegion: BENCH_DEPLOYMENT_REGION,
            rawConfig:
              phase === 'steady-sampled'
                ? { ...rawConfig, podIdentity: { verifyEveryRuns: SAMPLED_VERIFY_EVERY } }
                : rawConfig,
            retryMode: 'adaptive',
          };
          const outcome = await runChild<ReconcileScenarioInput, ReconcileScenarioResult>(SCENARIO, input);
          const { result } = outcome;
          const calls = Object.entries(result.apiCalls);
          const eks = calls.filter(([key]) => key.startsWith('EKS:')).reduce((sum, [, n]) => sum + n, 0);
          const run: PodIdentityRun = {
            phase,
            wallMs: result.wallMs,
            memory: outcome.memory,
            apiCalls: result.apiCalls,
            counts: result.counts,
            failed: result.failed,
            failures: result.failures,
            eksCallsPerCluster: Math.round((eks / clusters) * 100) / 100,
            iamCalls: calls.filter(([key]) => key.startsWith('IAM:')).reduce((sum, [, n]) => sum + n, 0),
            writes: calls.filter(([key]) => WRITE.test(key)).reduce((sum, [, n]) => sum + n, 0),
          };
          runs.push(run);
          options.log(
            `pod-identity ${clusters} clusters, ${phase}: ${(run.wallMs / 1000).toFixed(1)} s, ${run.writes} writes, ${run.eksCallsPerCluster} EKS calls per cluster, ${run.iamCalls} IAM calls, peak RSS ${run.memory.peakRssMb} MB${run.failed ? `, FAILED: ${run.failures.join('; ')}` : ''}`,
          );
        }
        results.push({
          clusters,
          regions: POD_IDENTITY_REGIONS.length,
          seedMs,
          runs,
          associations: front.associations().length,
        });
      } finally {
        await front.stop();
      }
    } catch (error) {
      options.onError(`pod-identity ${clusters} clusters`, error);
    } finally {
      await moto.stop();
    }
  }
  return results;
}
