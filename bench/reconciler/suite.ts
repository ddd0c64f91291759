import { join } from 'node:path';
import { isReadOperation } from '../../lib/aws/api-calls';
import { type MotoServer, startMotoServer } from '../../test/support/moto-server';
import { type MemoryUsage, runChild } from '../child';
import { type LatencyProxy, type ServiceStats, startLatencyProxy } from '../latency-proxy';
import {
  BENCH_DEPLOYMENT_REGION,
  BENCH_STAGE,
  benchConfig,
  FLEET_REGIONS,
  type FleetCensus,
  seedFleet,
  steadyStateLowerBound,
  takeCensus,
} from './fleet';
import type { ReconcileScenarioInput, ReconcileScenarioResult } from './scenario';

export interface ReconcilerBenchOptions {
  sizes: number[];
  /** The configured (bounded) concurrency of the reconciler. */
  concurrency: number;
  latencyMs: number;
  /** Sizes also run with concurrency 1 behind the latency proxy (slow: one call at a time). */
  sequentialSizes: number[];
  /**
   * Sizes also run behind the proxy with throttling injected: with the SDK's adaptive retry mode (the
   * default of the handlers' clients) and with its standard mode, to show what the adaptive client-side
   * rate limiter costs.
   */
  throttleSizes: number[];
  /** Share of requests throttled per service in the throttling variant. */
  throttle: Record<string, number>;
  seed: number;
  log: (line: string) => void;
}

export type Variant =
  | 'direct'
  | 'latency'
  | 'latency-sequential'
  | 'latency-throttled'
  | 'latency-throttled-standard-retry';
export type Phase = 'first' | 'steady';

/** Role names are account-wide: each variant's roles get a prefix of their own. */
const ROLE_PREFIX: Record<Variant, string> = {
  direct: 'bd-',
  latency: 'bl-',
  'latency-sequential': 'bs-',
  'latency-throttled': 'bt-',
  'latency-throttled-standard-retry': 'bu-',
};

interface VariantSpec {
  variant: Variant;
  concurrency: number;
  latencyMs: number;
  throttle: Record<string, number>;
  retryMode: 'standard' | 'adaptive';
}

export interface ReconcilerRun extends VariantSpec {
  clusters: number;
  phase: Phase;
  wallMs: number;
  processWallMs: number;
  memory: MemoryUsage;
  apiCalls: Record<string, number>;
  reads: number;
  writes: number;
  counts: Record<string, number>;
  failed: boolean;
  failures: string[];
  /** Requests and injected throttles per service, as the proxy saw them. */
  proxy?: Record<string, ServiceStats>;
}

export interface ReconcilerSizeResult {
  clusters: number;
  regions: Record<string, number>;
  census: FleetCensus;
  lowerBound: Record<string, number>;
  lowerBoundReads: number;
  runs: ReconcilerRun[];
}

const SCENARIO = join(__dirname, 'scenario.ts');

export async function runReconcilerBench(options: ReconcilerBenchOptions): Promise<ReconcilerSizeResult[]> {
  const results: ReconcilerSizeResult[] = [];
  for (const clusters of options.sizes) {
    const moto = await startMotoServer();
    try {
      results.push(await benchOneSize(moto, clusters, options));
    } finally {
      await moto.stop();
    }
  }
  return results;
}

async function benchOneSize(
  moto: MotoServer,
  clusters: number,
  options: ReconcilerBenchOptions,
): Promise<ReconcilerSizeResult> {
  const variants: VariantSpec[] = [
    {
      variant: 'direct',
      concurrency: options.concurrency,
      latencyMs: 0,
      throttle: {},
      retryMode: 'adaptive',
    },
    {
      variant: 'latency',
      concurrency: options.concurrency,
      latencyMs: options.latencyMs,
      throttle: {},
      retryMode: 'adaptive',
    },
  ];
  if (options.sequentialSizes.includes(clusters)) {
    variants.push({
      variant: 'latency-sequential',
      concurrency: 1,
      latencyMs: options.latencyMs,
      throttle: {},
      retryMode: 'adaptive',
    });
  }
  if (options.throttleSizes.includes(clusters)) {
    for (const retryMode of ['adaptive', 'standard'] as const) {
      variants.push({
        variant: retryMode === 'adaptive' ? 'latency-throttled' : 'latency-throttled-standard-retry',
        concurrency: options.concurrency,
        latencyMs: options.latencyMs,
        throttle: options.throttle,
        retryMode,
      });
    }
  }

  // moto takes ~80 ms per CreateCluster (it re-reads botocore's endpoint data to validate the role
  // ARN), so the fleet is made once per size. Each variant is a stage of its own: its roles live under
  // their own path with their own name prefix, so its first run starts from no roles at all.
  const seedStarted = performance.now();
  const regions = await seedFleet(moto.endpoint, clusters, FLEET_REGIONS);
  options.log(
    `reconciler ${clusters} clusters: fleet seeded in ${Math.round(performance.now() - seedStarted)} ms`,
  );
  const runs: ReconcilerRun[] = [];
  let census: FleetCensus | undefined;
  for (const spec of variants) {
    const stage = `${BENCH_STAGE}-${spec.variant}`;
    let proxy: LatencyProxy | undefined;
    if (spec.latencyMs > 0 || Object.keys(spec.throttle).length > 0) {
      proxy = await startLatencyProxy({
        target: moto.endpoint,
        latencyMs: spec.latencyMs,
        throttle: spec.throttle,
        seed: options.seed,
      });
    }
    try {
      for (const phase of ['first', 'steady'] as const) {
        proxy?.resetStats();
        const input: ReconcileScenarioInput = {
          endpoint: proxy?.endpoint ?? moto.endpoint,
          stage,
          deploymentRegion: BENCH_DEPLOYMENT_REGION,
          rawConfig: benchConfig(FLEET_REGIONS, spec.concurrency, ROLE_PREFIX[spec.variant]),
          retryMode: spec.retryMode,
        };
        const outcome = await runChild<ReconcileScenarioInput, ReconcileScenarioResult>(SCENARIO, input);
        const { result } = outcome;
        const run: ReconcilerRun = {
          clusters,
          ...spec,
          phase,
          wallMs: result.wallMs,
          processWallMs: outcome.processWallMs,
          memory: outcome.memory,
          apiCalls: result.apiCalls,
          reads: sumCalls(result.apiCalls, true),
          writes: sumCalls(result.apiCalls, false),
          counts: result.counts,
          failed: result.failed,
          failures: result.failures,
          ...(proxy ? { proxy: proxy.stats() } : {}),
        };
        runs.push(run);
        options.log(
          `reconciler ${clusters} clusters / ${spec.variant} / ${phase}: ${run.wallMs} ms, ${run.reads} reads, ${run.writes} writes, peak RSS ${run.memory.peakRssMb} MB${run.failed ? `, FAILED: ${run.failures.join('; ')}` : ''}`,
        );
      }
    } finally {
      await proxy?.close();
    }
    if (spec.variant === 'direct') {
      census = await takeCensus(moto.endpoint, FLEET_REGIONS, `/irsa-reconciler/${stage}/`);
    }
  }
  if (!census) throw new Error('the direct variant did not run');
  const lowerBound = steadyStateLowerBound(census);
  return {
    clusters,
    regions,
    census,
    lowerBound,
    lowerBoundReads: Object.values(lowerBound).reduce((sum, count) => sum + count, 0),
    runs,
  };
}

function sumCalls(calls: Record<string, number>, reads: boolean): number {
  return Object.entries(calls)
    .filter(([key]) => isReadOperation(key.split(':')[1] ?? '') === reads)
    .reduce((sum, [, count]) => sum + count, 0);
}
