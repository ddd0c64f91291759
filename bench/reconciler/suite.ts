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
  readRate,
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
  /** A variant or size that crashed: recorded, and the benchmark goes on with the next one. */
  onError: (part: string, error: unknown) => void;
}

export type Variant =
  | 'direct'
  | 'latency'
  | 'latency-sequential'
  | 'latency-throttled'
  | 'latency-throttled-standard-retry';
export type Phase = 'first' | 'steady';

/** Each variant is a stage of its own (at most 32 characters) with its own role name prefix. */
const VARIANT_ID: Record<Variant, string> = {
  direct: 'd',
  latency: 'l',
  'latency-sequential': 's',
  'latency-throttled': 't',
  'latency-throttled-standard-retry': 'u',
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

/** Reads per second the emulator serves on its own (ListRoleTags, nothing else running). */
export interface EmulatorCeiling {
  concurrency: number;
  directPerSecond: number;
  /** Through the latency proxy. */
  latencyPerSecond: number;
  /** Through the latency proxy, one call at a time. */
  sequentialLatencyPerSecond: number;
}

export interface ReconcilerSizeResult {
  clusters: number;
  ceiling: EmulatorCeiling;
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
    } catch (error) {
      options.onError(`reconciler ${clusters} clusters`, error);
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
  let ceiling: EmulatorCeiling | undefined;
  for (const spec of variants) {
    const stage = `${BENCH_STAGE}-${VARIANT_ID[spec.variant]}`;
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
          rawConfig: benchConfig(FLEET_REGIONS, spec.concurrency, `b${VARIANT_ID[spec.variant]}-`),
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
    } catch (error) {
      // The census below needs the direct variant; any other crashed variant is only left out.
      if (spec.variant === 'direct') throw error;
      options.onError(`reconciler ${clusters} clusters / ${spec.variant}`, error);
    } finally {
      await proxy?.close();
    }
    if (spec.variant === 'direct') {
      const { roleNames, ...counts } = await takeCensus(
        moto.endpoint,
        FLEET_REGIONS,
        `/irsa-reconciler/${stage}/`,
      );
      census = counts;
      ceiling = await measureCeiling(moto.endpoint, roleNames, options);
      options.log(
        `reconciler ${clusters} clusters: emulator serves ${ceiling.directPerSecond} reads/s direct, ${ceiling.latencyPerSecond}/s with ${options.latencyMs} ms latency at concurrency ${options.concurrency}, ${ceiling.sequentialLatencyPerSecond}/s one at a time`,
      );
    }
  }
  if (!census || !ceiling) throw new Error('the direct variant did not run');
  const lowerBound = steadyStateLowerBound(census);
  return {
    clusters,
    ceiling,
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

const CEILING_CALLS = 400;

async function measureCeiling(
  endpoint: string,
  roleNames: string[],
  options: ReconcilerBenchOptions,
): Promise<EmulatorCeiling> {
  const directPerSecond = await readRate(endpoint, roleNames, options.concurrency, CEILING_CALLS);
  const proxy = await startLatencyProxy({ target: endpoint, latencyMs: options.latencyMs });
  try {
    return {
      concurrency: options.concurrency,
      directPerSecond,
      latencyPerSecond: await readRate(proxy.endpoint, roleNames, options.concurrency, CEILING_CALLS),
      sequentialLatencyPerSecond: await readRate(proxy.endpoint, roleNames, 1, CEILING_CALLS / 4),
    };
  } finally {
    await proxy.close();
  }
}
