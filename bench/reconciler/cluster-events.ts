import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { createAwsClients } from '../../lib/aws/clients';
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { DEFAULT_WAIT } from '../../lib/reconciler/events/cluster-event';
import { reconcile, reconcileCluster } from '../../lib/reconciler/index';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS, startMotoServer } from '../../test/support/moto-server';
import { BENCH_DEPLOYMENT_REGION, benchConfig, FLEET_REGIONS, seedFleet } from './fleet';

/**
 * The event path's cost: one single-cluster reconcile of a cluster that has just turned ACTIVE, in
 * fleets of different sizes (its API calls must not grow with the fleet), and the time from ACTIVE to
 * usable roles: at most one look-again delay (the consumer's poll) plus that reconcile.
 */

export interface ClusterEventsBenchOptions {
  sizes: number[];
  concurrency: number;
  log: (line: string) => void;
  onError: (part: string, error: unknown) => void;
}

export interface ClusterEventsSizeResult {
  fleet: number;
  /** The created cluster's reconcile (its roles made) and a rerun (nothing to do). */
  created: { wallMs: number; calls: number; writes: number; apiCalls: Record<string, number> };
  rerun: { wallMs: number; calls: number; writes: number };
  /** Worst case from ACTIVE to roles: the poll delay plus the reconcile. */
  worstActiveToRoleSeconds: number;
  pollSeconds: number;
}

const WRITE = /:(Create|Update|Delete|Put|Tag|Untag|Attach|Detach)/;
const STAGE = 'bench-events';

export async function runClusterEventsBench(
  options: ClusterEventsBenchOptions,
): Promise<ClusterEventsSizeResult[]> {
  const results: ClusterEventsSizeResult[] = [];
  for (const fleet of options.sizes) {
    const moto = await startMotoServer();
    try {
      await seedFleet(moto.endpoint, fleet, FLEET_REGIONS);
      const raw = benchConfig(FLEET_REGIONS, options.concurrency, 'be-');
      const config = parseReconcilerConfig(
        { ...raw, createOidcProvider: true },
        {
          stage: STAGE,
          deploymentRegion: BENCH_DEPLOYMENT_REGION,
        },
      );
      const deps = () => ({
        clients: createAwsClients({
          region: BENCH_DEPLOYMENT_REGION,
          endpoint: moto.endpoint,
          credentials: EMULATOR_CREDENTIALS,
        }),
        logger: silentLogger,
      });
      await reconcile(deps(), config);
      const region = FLEET_REGIONS[0] ?? 'us-east-1';
      const eks = new EKSClient({ region, endpoint: moto.endpoint, credentials: EMULATOR_CREDENTIALS });
      await eks.send(
        new CreateClusterCommand({
          name: 'bench-new-cluster',
          roleArn: `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:role/eks-cluster`,
          resourcesVpcConfig: { subnetIds: [] },
        }),
      );
      eks.destroy();
      const measure = async () => {
        const started = performance.now();
        const report = await reconcileCluster(deps(), config, { region, name: 'bench-new-cluster' });
        const wallMs = Math.round(performance.now() - started);
        if (report.failed)
          throw new Error(`single-cluster reconcile failed: ${JSON.stringify(report.counts)}`);
        const entries = Object.entries(report.apiCalls);
        return {
          wallMs,
          calls: entries.reduce((sum, [, n]) => sum + n, 0),
          writes: entries.filter(([key]) => WRITE.test(key)).reduce((sum, [, n]) => sum + n, 0),
          apiCalls: report.apiCalls,
        };
      };
      const created = await measure();
      const { apiCalls: _ignored, ...rerun } = await measure();
      const result: ClusterEventsSizeResult = {
        fleet,
        created,
        rerun,
        pollSeconds: DEFAULT_WAIT.pollSeconds,
        worstActiveToRoleSeconds: Math.round((DEFAULT_WAIT.pollSeconds * 1000 + created.wallMs) / 100) / 10,
      };
      results.push(result);
      options.log(
        `cluster events, fleet ${fleet}: created ${created.wallMs} ms, ${created.calls} calls (${created.writes} writes); rerun ${rerun.wallMs} ms, ${rerun.calls} calls, ${rerun.writes} writes`,
      );
    } catch (error) {
      options.onError(`cluster events, fleet ${fleet}`, error);
    } finally {
      await moto.stop();
    }
  }
  return results;
}
