import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { removeBundles } from './child';
import { runIndexerBench } from './indexer/suite';
import { currentLoadAverage, machineInfo } from './machine';
import { runAccountObserveBench } from './reconciler/account';
import { runClusterEventsBench } from './reconciler/cluster-events';
import { runPodIdentityBench } from './reconciler/pod-identity';
import { runReconcilerBench } from './reconciler/suite';
import { type BenchResults, checkTargets, renderMarkdown } from './report';

/**
 * `npm run bench` (after scripts/setup-tools.sh). Writes bench/results/results.{md,json} (or --out)
 * and prints a PASS/MISS line per target. Misses are reported, not failed on; a crash exits 1.
 *
 *   --quick                 small sizes, for a smoke run (about 3 minutes on 2 cores)
 *   --only reconciler|indexer|pod-identity|cluster-events
 *   --event-fleet-sizes 100,1000  fleets in which one cluster's event reconcile is measured; 0 to skip
 *   --pod-identity-sizes 5000  clusters (over 8 regions) of the EKS Pod Identity fleet; 0 to skip
 *   --sizes 100,500,1000    reconciler cluster counts
 *   --index-sizes 1000,10000,50000
 *   --large-index-mb 60     index sizes (MB) of the memory scenario: focused, whole-file and JSON update
 *   --rebuild-sizes 1000,10000   index sizes whose charts are uploaded to moto and rebuilt
 *   --sequential-sizes 100  cluster counts also run at concurrency 1 behind the latency proxy
 *   --throttle-sizes 100    cluster counts also run with throttling injected
 *   --throttle iam=0.1      share of requests throttled per service
 *   --latency 30            ms added per request by the proxy
 *   --concurrency 8         the reconciler's configured concurrency
 *   --repeats 3             incremental updates and helm merges per index size (medians reported)
 *   --seed 1                seed of the injected throttling
 *   --account-roles 5000    roles of the account observed at IAM's ceiling (0: skip), owned: --account-owned 2000
 *   --out bench/results     where results.md and results.json go
 */
const USAGE =
  'usage: tsx bench/run.ts [--quick] [--only reconciler|indexer|pod-identity] [--sizes 100,500,1000] ...';

interface Options {
  only?: 'reconciler' | 'indexer' | 'pod-identity' | 'cluster-events';
  podIdentitySizes: number[];
  eventFleetSizes: number[];
  sizes: number[];
  indexSizes: number[];
  largeIndexMb: number[];
  rebuildSizes: number[];
  sequentialSizes: number[];
  throttleSizes: number[];
  throttle: Record<string, number>;
  latencyMs: number;
  concurrency: number;
  repeats: number;
  seed: number;
  accountRoles: number;
  accountOwned: number;
  out: string;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      'account-roles': { type: 'string' },
      'account-owned': { type: 'string' },
      only: { type: 'string' },
      sizes: { type: 'string' },
      'index-sizes': { type: 'string' },
      'pod-identity-sizes': { type: 'string' },
      'event-fleet-sizes': { type: 'string' },
      'large-index-mb': { type: 'string' },
      'rebuild-sizes': { type: 'string' },
      'sequential-sizes': { type: 'string' },
      'throttle-sizes': { type: 'string' },
      throttle: { type: 'string' },
      latency: { type: 'string' },
      concurrency: { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const parts = ['reconciler', 'indexer', 'pod-identity', 'cluster-events'] as const;
  const only = parts.find((part) => part === values.only);
  if (values.only !== undefined && only === undefined) {
    throw new Error(`--only must be one of ${parts.join(', ')}, got "${values.only}"`);
  }
  const quick = values.quick;
  const sizes = numbers('--sizes', values.sizes, quick ? [20, 40] : [100, 500, 1000]);
  return {
    ...(only ? { only } : {}),
    eventFleetSizes: numbers(
      '--event-fleet-sizes',
      values['event-fleet-sizes'],
      quick ? [20, 40] : [100, 1000],
    ).filter((size) => size > 0),
    podIdentitySizes: numbers(
      '--pod-identity-sizes',
      values['pod-identity-sizes'],
      quick ? [40] : [5000],
    ).filter((size) => size > 0),
    sizes,
    indexSizes: numbers('--index-sizes', values['index-sizes'], quick ? [100, 500] : [1000, 10_000, 50_000]),
    largeIndexMb: numbers('--large-index-mb', values['large-index-mb'], quick ? [2] : [60]),
    rebuildSizes: numbers('--rebuild-sizes', values['rebuild-sizes'], quick ? [100, 500] : [1000, 10_000]),
    sequentialSizes: numbers('--sequential-sizes', values['sequential-sizes'], [sizes[0] ?? 0]),
    throttleSizes: numbers('--throttle-sizes', values['throttle-sizes'], [sizes[0] ?? 0]),
    throttle: shares(values.throttle ?? 'iam=0.1'),
    latencyMs: number('--latency', values.latency, 30),
    concurrency: number('--concurrency', values.concurrency, 8),
    repeats: number('--repeats', values.repeats, quick ? 2 : 3),
    seed: number('--seed', values.seed, 1),
    accountRoles: number('--account-roles', values['account-roles'], quick ? 500 : 5000),
    accountOwned: number('--account-owned', values['account-owned'], quick ? 200 : 2000),
    out: values.out ?? join(__dirname, 'results'),
  };
}

function numbers(flag: string, text: string | undefined, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  return text.split(',').map((part) => number(flag, part.trim(), Number.NaN));
}

function number(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${flag}: "${text}" is not a non-negative number`);
  return value;
}

function shares(text: string): Record<string, number> {
  return Object.fromEntries(
    text.split(',').map((pair) => {
      const [service, share] = pair.split('=');
      const value = Number(share);
      if (!service || !Number.isFinite(value) || value < 0 || value > 1) {
        throw new Error(`--throttle: "${pair}" is not service=share with a share between 0 and 1`);
      }
      return [service.trim().toLowerCase(), value];
    }),
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

  const started = performance.now();
  const results: BenchResults = {
    machine: machineInfo(),
    options: { ...options },
    durationS: 0,
    loadAverageEnd: 0,
    errors: [],
  };
  const onError = (part: string, error: unknown) => {
    results.errors.push({ part, error: describe(error) });
    log(`${part} crashed: ${describe(error)}`);
  };
  if (options.only === undefined || options.only === 'cluster-events') {
    try {
      results.clusterEvents = await runClusterEventsBench({
        sizes: options.eventFleetSizes,
        concurrency: options.concurrency,
        log,
        onError,
      });
    } catch (error) {
      onError('cluster-events', error);
    }
  }
  if (options.only === undefined || options.only === 'pod-identity') {
    try {
      results.podIdentity = await runPodIdentityBench({
        sizes: options.podIdentitySizes,
        concurrency: options.concurrency,
        log,
        onError,
      });
    } catch (error) {
      onError('pod-identity', error);
    }
  }
  if (options.only === undefined || options.only === 'reconciler') {
    try {
      results.reconciler = await runReconcilerBench({
        sizes: options.sizes,
        concurrency: options.concurrency,
        latencyMs: options.latencyMs,
        sequentialSizes: options.sequentialSizes,
        throttleSizes: options.throttleSizes,
        throttle: options.throttle,
        seed: options.seed,
        log,
        onError,
      });
    } catch (error) {
      results.errors.push({ part: 'reconciler', error: describe(error) });
      log(`reconciler benchmark crashed: ${describe(error)}`);
    }
  }
  if ((options.only === undefined || options.only === 'reconciler') && options.accountRoles > 0) {
    try {
      results.accountObserve = await runAccountObserveBench({
        roles: options.accountRoles,
        owned: Math.min(options.accountOwned, options.accountRoles),
        log,
      });
    } catch (error) {
      onError('account observe', error);
    }
  }
  if (options.only === undefined || options.only === 'indexer') {
    try {
      const largest = Math.max(...options.indexSizes);
      const growthBucket = options.rebuildSizes.filter(
        (size) => size >= 10 * Math.min(...options.indexSizes),
      );
      results.indexer = await runIndexerBench({
        sizes: options.indexSizes,
        largeIndexMb: options.largeIndexMb,
        rebuildSizes: options.rebuildSizes.filter((size) => size <= largest),
        ...(growthBucket.length > 0
          ? {
              bucketGrowth: {
                indexSize: Math.min(...options.indexSizes),
                bucketSize: Math.max(...growthBucket),
              },
            }
          : {}),
        repeats: options.repeats,
        concurrency: options.concurrency,
        workDir: mkdtempSync(join(tmpdir(), 'irsa-bench-')),
        log,
        onError,
      });
    } catch (error) {
      results.errors.push({ part: 'indexer', error: describe(error) });
      log(`indexer benchmark crashed: ${describe(error)}`);
    }
  }
  removeBundles();
  results.durationS = Math.round((performance.now() - started) / 1000);
  results.loadAverageEnd = currentLoadAverage();
  const checks = checkTargets(results);
  mkdirSync(options.out, { recursive: true });
  writeFileSync(
    join(options.out, 'results.json'),
    `${JSON.stringify({ ...results, targets: checks }, null, 2)}\n`,
  );
  writeFileSync(join(options.out, 'results.md'), renderMarkdown(results, checks));
  process.stdout.write('\n');
  for (const check of checks) process.stdout.write(`${check.verdict}: ${check.target} — ${check.measured}\n`);
  process.stdout.write(`\nresults written to ${join(options.out, 'results.md')} and results.json\n`);
  return results.errors.length > 0 ? 1 : 0;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${describe(error)}\n`);
      process.exit(1);
    },
  );
}
