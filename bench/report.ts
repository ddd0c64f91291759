import type { IndexerResults, IndexerSizeResult } from './indexer/suite';
import type { MachineInfo } from './machine';
import type { AccountObserveResult } from './reconciler/account';
import type { ClusterEventsSizeResult } from './reconciler/cluster-events';
import { type PodIdentitySizeResult, SAMPLED_VERIFY_EVERY } from './reconciler/pod-identity';
import type { ReconcilerRun, ReconcilerSizeResult } from './reconciler/suite';

export interface BenchResults {
  machine: MachineInfo;
  options: Record<string, unknown>;
  durationS: number;
  /** 1-minute load average when the benchmark ended. */
  loadAverageEnd: number;
  reconciler?: ReconcilerSizeResult[];
  /** One observe of an account at IAM's role ceiling. */
  accountObserve?: AccountObserveResult;
  indexer?: IndexerResults;
  /** The EKS Pod Identity fleet. */
  podIdentity?: PodIdentitySizeResult[];
  /** One cluster's event-path reconcile in fleets of different sizes. */
  clusterEvents?: ClusterEventsSizeResult[];
  /** Parts that crashed, with the error. */
  errors: Array<{ part: string; error: string }>;
}

export type Verdict = 'PASS' | 'MISS' | 'NOT RUN';

export interface TargetCheck {
  target: string;
  verdict: Verdict;
  measured: string;
}

/** The issue's targets, each checked against what was measured (never against a hard-coded value). */
export const LIMITS = {
  readsOverLowerBound: 0.1,
  steadyLatencyClusters: 1000,
  steadyLatencyMs: 20_000,
  /** IAM calls of a steady run: identity is STS; IAM is the bulk read's pages and the provider list. */
  steadyIamCallsBase: 5,
  steadyCallsOverClusters: 20,
  incrementalVersions: 10_000,
  incrementalMs: 500,
  incrementalRssMb: 200,
  /** Memory an incremental (focused) update adds, per byte of index. */
  focusedMemoryPerIndexByte: 3,
  /** The bucket-size check allows this much noise between two timings of the same work. */
  growthTolerance: 0.25,
  growthToleranceMs: 50,
} as const;

export function checkTargets(results: BenchResults): TargetCheck[] {
  return [
    ...reconcilerTargets(results.reconciler),
    ...podIdentityTargets(results.podIdentity),
    ...clusterEventsTargets(results.clusterEvents),
    ...indexerTargets(results.indexer),
  ];
}

function reconcilerTargets(sizes: ReconcilerSizeResult[] | undefined): TargetCheck[] {
  if (!sizes || sizes.length === 0) {
    return ['steady-state: zero writes', 'steady-state reads within 10% of the lower bound'].map(
      (target) => ({
        target,
        verdict: 'NOT RUN' as const,
        measured: 'reconciler not run',
      }),
    );
  }
  const steady = sizes.flatMap((size) => size.runs.filter((run) => run.phase === 'steady'));
  const writing = steady.filter((run) => run.writes > 0);
  const checks: TargetCheck[] = [
    {
      target: 'steady-state reconcile makes zero writes',
      verdict: writing.length === 0 ? 'PASS' : 'MISS',
      measured:
        writing.length === 0
          ? `0 writes in all ${steady.length} steady-state runs`
          : writing.map((run) => `${run.clusters} ${run.variant}: ${run.writes} writes`).join('; '),
    },
  ];
  for (const size of sizes) {
    const direct = findRun(size.runs, 'direct', 'steady');
    if (!direct) continue;
    const over = direct.reads / size.lowerBoundReads - 1;
    checks.push({
      target: `${size.clusters} clusters: steady-state reads within ${LIMITS.readsOverLowerBound * 100}% of the lower bound`,
      // A tolerance for floating point: 7,700 reads over a bound of 7,000 is exactly 10%.
      verdict: over <= LIMITS.readsOverLowerBound + 1e-9 ? 'PASS' : 'MISS',
      measured: `${direct.reads} reads vs lower bound ${size.lowerBoundReads} (${formatPercent(over)})`,
    });
  }
  for (const size of sizes) {
    const direct = findRun(size.runs, 'direct', 'steady');
    if (!direct) continue;
    const iamCalls = Object.entries(direct.apiCalls)
      .filter(([operation]) => operation.startsWith('IAM:'))
      .reduce((sum, [, count]) => sum + count, 0);
    const extraPages = Math.max(0, (size.census.authorizationDetailsPages ?? 1) - 1);
    const iamLimit = LIMITS.steadyIamCallsBase + extraPages;
    checks.push({
      target: `${size.clusters} clusters: steady-state IAM calls at most ${LIMITS.steadyIamCallsBase} plus one per extra page of roles`,
      verdict: iamCalls <= iamLimit ? 'PASS' : 'MISS',
      measured: `${iamCalls} IAM calls (limit ${iamLimit})`,
    });
    const total = Object.values(direct.apiCalls).reduce((sum, count) => sum + count, 0);
    checks.push({
      target: `${size.clusters} clusters: steady-state calls at most clusters + ${LIMITS.steadyCallsOverClusters}`,
      verdict: total <= size.clusters + LIMITS.steadyCallsOverClusters ? 'PASS' : 'MISS',
      measured: `${total} calls for ${size.clusters} clusters`,
    });
  }
  const large = sizes.find((size) => size.clusters === LIMITS.steadyLatencyClusters);
  const latencyRun = large && findRun(large.runs, 'latency', 'steady');
  checks.push(
    latencyRun
      ? {
          target: `${LIMITS.steadyLatencyClusters} clusters steady-state with ${latencyRun.latencyMs} ms latency under ${LIMITS.steadyLatencyMs / 1000} s`,
          verdict: latencyRun.wallMs < LIMITS.steadyLatencyMs && !latencyRun.failed ? 'PASS' : 'MISS',
          measured: `${seconds(latencyRun.wallMs)} s at concurrency ${latencyRun.concurrency}`,
        }
      : {
          target: `${LIMITS.steadyLatencyClusters} clusters steady-state with latency under ${LIMITS.steadyLatencyMs / 1000} s`,
          verdict: 'NOT RUN',
          measured: `size ${LIMITS.steadyLatencyClusters} not in this run`,
        },
  );
  const throttled = sizes.flatMap((size) =>
    size.runs.filter((run) => run.variant.startsWith('latency-throttled')),
  );
  if (throttled.length > 0) {
    const failed = throttled.filter((run) => run.failed);
    checks.push({
      target: 'runs with injected throttling finish without failing',
      verdict: failed.length === 0 ? 'PASS' : 'MISS',
      measured: throttled
        .map(
          (run) =>
            `${run.clusters} ${run.phase} (${run.retryMode} retry): ${run.failed ? 'FAILED' : 'ok'} in ${seconds(run.wallMs)} s, ${throttledCount(run)} throttled`,
        )
        .join('; '),
    });
  }
  return checks;
}

function indexerTargets(indexer: IndexerResults | undefined): TargetCheck[] {
  if (!indexer || indexer.sizes.length === 0) {
    return [{ target: 'incremental index update targets', verdict: 'NOT RUN', measured: 'indexer not run' }];
  }
  const checks: TargetCheck[] = [];
  const target = indexer.sizes.find((size) => size.versions === LIMITS.incrementalVersions);
  if (target) {
    const { coldMs, memory } = target.incremental;
    checks.push({
      target: `incremental update of a ${LIMITS.incrementalVersions}-version index under ${LIMITS.incrementalMs} ms and ${LIMITS.incrementalRssMb} MB`,
      verdict: coldMs < LIMITS.incrementalMs && memory.peakRssMb < LIMITS.incrementalRssMb ? 'PASS' : 'MISS',
      measured: `${coldMs} ms (first event of a process; ${target.incremental.warmMs} ms warm), peak RSS ${memory.peakRssMb} MB`,
    });
  } else {
    checks.push({
      target: `incremental update of a ${LIMITS.incrementalVersions}-version index`,
      verdict: 'NOT RUN',
      measured: `size ${LIMITS.incrementalVersions} not in this run`,
    });
  }
  for (const large of indexer.largeIndex ?? []) {
    const focused = large.runs.find((run) => run.path === 'focused');
    if (!focused) continue;
    checks.push({
      target: `incremental update of a ${large.targetMb} MB index adds at most ${LIMITS.focusedMemoryPerIndexByte}× the index size to memory`,
      verdict: focused.addedPerIndexByte <= LIMITS.focusedMemoryPerIndexByte ? 'PASS' : 'MISS',
      measured: `${mbOf(focused.indexBytes)} MB index: peak RSS ${focused.memory.peakRssMb} MB over a ${focused.memory.baselineRssMb} MB baseline = ${focused.addedPerIndexByte}× the index`,
    });
    for (const run of large.runs) {
      const budgetFactor = run.assumedPerIndexByte;
      checks.push({
        target: `the memory ceiling's factor for the ${run.path} path covers what it measured`,
        verdict: run.addedPerIndexByte <= budgetFactor ? 'PASS' : 'MISS',
        measured: `${run.addedPerIndexByte}× measured, ${budgetFactor}× assumed`,
      });
    }
  }
  const growth = indexer.bucketGrowth;
  const base = growth && indexer.sizes.find((size) => size.versions === growth.indexVersions);
  if (growth && base) {
    const lists = Object.keys(growth.incremental.apiCallsPerEvent).filter((key) => key.includes('List'));
    const delta = growth.incremental.warmMs - base.incremental.warmMs;
    const allowed = Math.max(LIMITS.growthTolerance * base.incremental.warmMs, LIMITS.growthToleranceMs);
    checks.push({
      target: 'incremental cost does not grow with the charts in the bucket',
      verdict: lists.length === 0 && delta <= allowed ? 'PASS' : 'MISS',
      measured: `${growth.indexVersions}-version index: ${base.incremental.warmMs} ms warm with ${base.bucketCharts} charts in the bucket, ${growth.incremental.warmMs} ms with ${growth.bucketCharts}; list calls: ${lists.length === 0 ? 'none' : lists.join(', ')}`,
    });
  }
  const slower = indexer.sizes.filter((size) => size.incremental.coldMs >= size.helmMerge.medianMs);
  checks.push({
    target: 'incremental update faster than `helm repo index --merge` at every size',
    verdict: slower.length === 0 ? 'PASS' : 'MISS',
    measured: indexer.sizes
      .map((size) => `${size.versions}: ${size.incremental.coldMs} vs ${size.helmMerge.medianMs} ms`)
      .join('; '),
  });
  return checks;
}

export function renderMarkdown(results: BenchResults, checks: TargetCheck[]): string {
  const { machine } = results;
  const lines: string[] = [
    '# Benchmark results',
    '',
    `Measured ${machine.date} by \`npm run bench\` (${results.durationS} s in all) on:`,
    '',
    '| CPU | cores | memory | load (1 min) at start / end | OS | Node | moto | helm | AWS SDK | commit |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| ${machine.cpuModel} | ${machine.cores} | ${machine.memoryGb} GB | ${machine.loadAverage} / ${results.loadAverageEnd} | ${machine.os} | ${machine.node} | ${machine.moto} | ${machine.helm} | ${machine.awsSdk} | ${machine.gitCommit}${machine.uncommittedSourceFiles > 0 ? ` + ${machine.uncommittedSourceFiles} uncommitted source files` : ''} |`,
    '',
    `Options: \`${JSON.stringify(results.options)}\``,
    '',
    '## Targets',
    '',
    '| target | verdict | measured |',
    '|---|---|---|',
    ...checks.map((check) => `| ${check.target} | ${check.verdict} | ${check.measured} |`),
    '',
  ];
  if (results.reconciler) lines.push(...reconcilerMarkdown(results.reconciler));
  if (results.accountObserve) {
    const account = results.accountObserve;
    lines.push(
      '## Observe at the account ceiling',
      '',
      `An account of ${account.roles} roles (IAM's maximum quota is 5,000), ${account.owned} of them owned (two inline policies, five tags each), the rest someone else's; seeded in ${seconds(account.seedMs)} s. One observe:`,
      '',
      '| wall | process wall | peak RSS | peak heap | calls | owned roles kept | other roles kept by name |',
      '|---|---|---|---|---|---|---|',
      `| ${seconds(account.wallMs)} s | ${seconds(account.processWallMs)} s | ${account.memory.peakRssMb} MB | ${account.memory.peakHeapMb} MB | ${Object.entries(
        account.apiCalls,
      )
        .map(([call, count]) => `${call} ${count}`)
        .join(', ')} | ${account.ownedSeen} | ${account.otherSeen} |`,
      '',
    );
  }
  if (results.podIdentity && results.podIdentity.length > 0)
    lines.push(...podIdentityMarkdown(results.podIdentity));
  if (results.clusterEvents && results.clusterEvents.length > 0)
    lines.push(...clusterEventsMarkdown(results.clusterEvents));
  if (results.indexer) lines.push(...indexerMarkdown(results.indexer));
  if (results.errors.length > 0) {
    lines.push(
      '## Errors',
      '',
      ...results.errors.map(({ part, error }) => `- ${part}: ${error.split('\n')[0]}`),
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

function reconcilerMarkdown(sizes: ReconcilerSizeResult[]): string[] {
  const lines = [
    '## Reconciler',
    '',
    'Clusters spread evenly over 4 regions, 2 bindings each (2 roles per cluster, 3 inline policies in all per',
    'cluster), against moto. `first` creates every role; `steady` runs again with nothing changed. Wall time',
    'is the `reconcile()` call; peak RSS is the whole Node process (getrusage), baseline is before the run.',
    '',
    '| clusters | variant | run | concurrency | latency | throttled (retry mode) | wall (s) | peak RSS (MB) | baseline RSS (MB) | reads | writes | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const size of sizes) {
    for (const run of size.runs) {
      lines.push(
        `| ${size.clusters} | ${run.variant} | ${run.phase} | ${run.concurrency} | ${run.latencyMs} ms | ${throttledCount(run)} (${run.retryMode}) | ${seconds(run.wallMs)} | ${run.memory.peakRssMb} | ${run.memory.baselineRssMb} | ${run.reads} | ${run.writes} | ${run.failed ? `FAILED: ${run.failures[0] ?? ''}` : 'ok'} |`,
      );
    }
  }
  lines.push(
    '',
    '### Steady-state calls against the lower bound',
    '',
    'The lower bound is derived from what the emulator holds after the run, read with the largest page sizes the',
    'APIs allow (ListClusters 100, ListRoles 1,000): ListClusters pages per region + one DescribeCluster per',
    'cluster + GetAccountAuthorizationDetails pages (every role of the account in bulk; moto answers in one page) +',
    'ListOpenIDConnectProviders + GetCallerIdentity.',
    '',
  );
  for (const size of sizes) {
    const direct = findRun(size.runs, 'direct', 'steady');
    if (!direct) continue;
    const operations = [
      ...new Set([...Object.keys(size.lowerBound), ...Object.keys(direct.apiCalls)]),
    ].sort();
    lines.push(
      `**${size.clusters} clusters** (${Object.entries(size.regions)
        .map(([region, count]) => `${region}: ${count}`)
        .join(
          ', ',
        )}): ${direct.reads} reads, lower bound ${size.lowerBoundReads} (${formatPercent(direct.reads / size.lowerBoundReads - 1)})`,
      '',
      '| call | steady state | lower bound |',
      '|---|---|---|',
      ...operations.map(
        (operation) =>
          `| ${operation} | ${direct.apiCalls[operation] ?? 0} | ${size.lowerBound[operation] ?? 0} |`,
      ),
      '',
    );
  }
  const speedups = sizes.flatMap((size) =>
    (['first', 'steady'] as const).flatMap((phase) => {
      const bounded = findRun(size.runs, 'latency', phase);
      const sequential = findRun(size.runs, 'latency-sequential', phase);
      return bounded && sequential
        ? [
            `| ${size.clusters} | ${phase} | ${seconds(sequential.wallMs)} | ${seconds(bounded.wallMs)} (concurrency ${bounded.concurrency}) | ${(sequential.wallMs / bounded.wallMs).toFixed(1)}× |`,
          ]
        : [];
    }),
  );
  if (speedups.length > 0) {
    lines.push(
      '### What bounded concurrency buys (30 ms per request)',
      '',
      '| clusters | run | concurrency 1 (s) | bounded (s) | speed-up |',
      '|---|---|---|---|---|',
      ...speedups,
      '',
    );
  }
  return lines;
}

function indexerMarkdown(indexer: IndexerResults): string[] {
  const lines = [
    '## Helm indexer',
    '',
    'Same archives for both tools. Incremental: one S3 "object created" event for one new chart, handled by',
    '`handleS3Event` against moto S3 (GET index, GET chart, conditional PUT); "cold" is the first event of a fresh',
    'process, "warm" the second; Node start-up is not included. `helm repo index --merge old-index.yaml <dir with',
    'the new chart>` is timed from spawn to exit on local files (no download or upload). Full: `rebuildIndex`',
    'lists the prefix and reads every chart from moto; `helm repo index <dir>` reads local files.',
    '',
    '| versions | index (MB) | incremental cold (ms) | warm (ms) | peak RSS (MB) | helm --merge (ms) | helm --merge RSS (MB) | helm --merge ÷ ours (cold) | rebuild (charts/s) | helm full (charts/s) | rebuild ÷ helm |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...indexer.sizes.map(indexerRow),
    '',
    'The same incremental update with `indexFormat: json`, the stored index written as `helm repo index --json`',
    'writes it. A JSON index is always parsed, validated and written whole, so it costs the indexer more than',
    "the YAML focused path; what it saves is on the helm clients' side (they read JSON several times faster):",
    '',
    '| versions | JSON index (MB) | cold (ms) | warm (ms) | peak RSS (MB) | YAML cold / warm (ms) | YAML peak RSS (MB) |',
    '|---|---|---|---|---|---|---|',
    ...indexer.sizes.flatMap((size) => {
      const json = size.incrementalJson;
      if (json === undefined) return [];
      const yaml = size.incremental;
      return [
        `| ${size.versions} | ${json.indexMb ?? '–'} | ${json.coldMs} | ${json.warmMs} | ${json.memory.peakRssMb} | ${yaml.coldMs} / ${yaml.warmMs} | ${yaml.memory.peakRssMb} |`,
      ];
    }),
    '',
  ];
  const large = indexer.largeIndex ?? [];
  if (large.length > 0) {
    lines.push(
      'Memory of one update of a large index (synthesised entries, two events in a fresh process), by the path it',
      'takes: focused (an index this indexer wrote), whole (the same YAML unstamped, as helm or another tool leaves',
      'it) and JSON. "Added" is peak RSS minus the RSS before the first event; the ceiling is what the indexer',
      'accepts at 1,024 MB before reading an index (lib/helm/store/index-budget.ts), from the factor it assumes:',
      '',
      '| versions | path | index (MB) | events (ms) | peak RSS (MB) | baseline (MB) | added ÷ index | assumed | ceiling at 1,024 MB (MB) |',
      '|---|---|---|---|---|---|---|---|---|',
      ...large.flatMap((size) =>
        size.runs.map(
          (run) =>
            `| ${size.versions} | ${run.path} | ${mbOf(run.indexBytes)} | ${run.wallMs.join(', ')} | ${run.memory.peakRssMb} | ${run.memory.baselineRssMb} | ${run.addedPerIndexByte} | ${run.assumedPerIndexByte} | ${mbOf(run.ceilingAt1024Mb)} |`,
        ),
      ),
      '',
    );
  }
  const broken = indexer.sizes.filter((size) => size.incremental.breakdown);
  if (broken.length > 0) {
    lines.push(
      'The whole-file path (taken when index.yaml is not in the layout Helm writes), each step timed alone in a warm process:',
      '',
      '| versions | GET index (ms) | parse (ms) | serialize (ms) | PUT index (ms) |',
      '|---|---|---|---|---|',
      ...broken.map((size) => {
        const steps = size.incremental.breakdown;
        return `| ${size.versions} | ${steps?.getIndexMs} | ${steps?.parseMs} | ${steps?.serializeMs} | ${steps?.putIndexMs} |`;
      }),
      '',
    );
  }
  const growth = indexer.bucketGrowth;
  if (growth) {
    const base = indexer.sizes.find((size) => size.versions === growth.indexVersions);
    lines.push(
      `Bucket growth: the same ${growth.indexVersions}-version index with ${growth.bucketCharts} charts in the bucket: cold ${growth.incremental.coldMs} ms, warm ${growth.incremental.warmMs} ms${base ? ` (with ${base.bucketCharts} charts: cold ${base.incremental.coldMs} ms, warm ${base.incremental.warmMs} ms)` : ''}; S3 calls per event: ${formatCalls(growth.incremental.apiCallsPerEvent)}.`,
      '',
    );
  }
  return lines;
}

function indexerRow(size: IndexerSizeResult): string {
  const ratio = (size.helmMerge.medianMs / size.incremental.coldMs).toFixed(2);
  const rebuild = size.rebuild ? String(size.rebuild.chartsPerSecond) : 'not run';
  const rebuildRatio = size.rebuild
    ? (size.rebuild.chartsPerSecond / size.helmFull.chartsPerSecond).toFixed(2)
    : '–';
  return `| ${size.versions} | ${(size.indexBytes / 1e6).toFixed(1)} | ${size.incremental.coldMs} | ${size.incremental.warmMs} | ${size.incremental.memory.peakRssMb} | ${size.helmMerge.medianMs} | ${size.helmMerge.peakRssMb} | ${ratio} | ${rebuild} | ${size.helmFull.chartsPerSecond} | ${rebuildRatio} |`;
}

function findRun(runs: ReconcilerRun[], variant: ReconcilerRun['variant'], phase: ReconcilerRun['phase']) {
  return runs.find((run) => run.variant === variant && run.phase === phase);
}

function throttledCount(run: ReconcilerRun): number {
  return Object.values(run.proxy ?? {}).reduce((sum, stats) => sum + stats.throttled, 0);
}

function formatCalls(calls: Record<string, number>): string {
  return Object.entries(calls)
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
}

function formatPercent(share: number): string {
  return `${share >= 0 ? '+' : ''}${(share * 100).toFixed(1)}%`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function mbOf(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** The issue's targets for a Pod Identity fleet (one Lambda run is at most 15 minutes). */
const POD_IDENTITY_LIMITS = { runMs: 15 * 60_000, steadyMs: 5 * 60_000, eksCallsPerCluster: 3, iamCalls: 5 };

function podIdentityTargets(sizes: PodIdentitySizeResult[] | undefined): TargetCheck[] {
  if (!sizes || sizes.length === 0) {
    return [{ target: 'pod-identity fleet targets', verdict: 'NOT RUN', measured: 'pod-identity not run' }];
  }
  return sizes.flatMap((size) => {
    const first = size.runs.find((run) => run.phase === 'first');
    const steady = size.runs.find((run) => run.phase === 'steady');
    const sampled = size.runs.find((run) => run.phase === 'steady-sampled');
    if (!first || !steady) return [];
    const at = `${size.clusters} clusters over ${size.regions} regions, 2 pod-identity bindings`;
    return [
      {
        target: `${at}: first run and steady state within one Lambda run (15 min), steady under 5 min`,
        verdict:
          !first.failed &&
          !steady.failed &&
          first.wallMs <= POD_IDENTITY_LIMITS.runMs &&
          steady.wallMs <= POD_IDENTITY_LIMITS.steadyMs
            ? 'PASS'
            : 'MISS',
        measured: `first ${seconds(first.wallMs)} s${first.failed ? ' (FAILED)' : ''}, steady ${seconds(steady.wallMs)} s${steady.failed ? ' (FAILED)' : ''}`,
      },
      {
        target: `${at}: steady state makes zero writes`,
        verdict: steady.writes === 0 ? 'PASS' : 'MISS',
        measured: `${steady.writes} writes`,
      },
      ...[steady, sampled].flatMap((run) =>
        run === undefined
          ? []
          : [
              {
                target: `${at}: steady state at most ${POD_IDENTITY_LIMITS.eksCallsPerCluster} EKS calls per cluster and ${POD_IDENTITY_LIMITS.iamCalls} IAM calls (${run.phase === 'steady' ? 'every association described every run, the default' : `podIdentity.verifyEveryRuns ${SAMPLED_VERIFY_EVERY}`})`,
                verdict:
                  run.eksCallsPerCluster <= POD_IDENTITY_LIMITS.eksCallsPerCluster &&
                  run.iamCalls <= POD_IDENTITY_LIMITS.iamCalls &&
                  run.writes === 0
                    ? ('PASS' as const)
                    : ('MISS' as const),
                measured: `${run.eksCallsPerCluster} EKS calls per cluster (${formatCalls(pick(run.apiCalls, 'EKS:'))}), ${run.iamCalls} IAM calls, ${run.writes} writes`,
              },
            ],
      ),
    ];
  });
}

function pick(calls: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([key]) => key.startsWith(prefix)));
}

function podIdentityMarkdown(sizes: PodIdentitySizeResult[]): string[] {
  return [
    '## EKS Pod Identity fleet',
    '',
    'Clusters over eight regions, two pod-identity bindings (one role each for the fleet, one association per',
    'cluster and binding); moto holds the clusters and IAM, the Pod Identity fake in front of it the associations',
    'and add-ons (every cluster has the agent; the fake remembers that a cluster or role exists instead of asking',
    'moto each time). Wall time of `reconcile()`; peak RSS of the whole process. `steady-sampled` is a steady',
    `run with \`podIdentity.verifyEveryRuns: ${SAMPLED_VERIFY_EVERY}\` (each association described once in that many two-hour windows).`,
    '',
    '| clusters | run | wall (s) | peak RSS (MB) | writes | EKS calls per cluster | IAM calls | associations after | result |',
    '|---|---|---|---|---|---|---|---|---|',
    ...sizes.flatMap((size) =>
      size.runs.map(
        (run) =>
          `| ${size.clusters} | ${run.phase} | ${seconds(run.wallMs)} | ${run.memory.peakRssMb} | ${run.writes} | ${run.eksCallsPerCluster} | ${run.iamCalls} | ${size.associations} | ${run.failed ? `FAILED: ${run.failures.join('; ')}` : 'ok'} |`,
      ),
    ),
    '',
    ...sizes.flatMap((size) =>
      size.runs.map(
        (run) => `- ${size.clusters} clusters, ${run.phase} run calls: ${formatCalls(run.apiCalls)}`,
      ),
    ),
    '',
  ];
}

/** The event path must not cost more in a bigger fleet: same calls, within this many, at every size. */
const CLUSTER_EVENTS_CALL_GROWTH = 0;

function clusterEventsTargets(sizes: ClusterEventsSizeResult[] | undefined): TargetCheck[] {
  if (!sizes || sizes.length === 0) {
    return [{ target: 'cluster events targets', verdict: 'NOT RUN', measured: 'cluster-events not run' }];
  }
  const createdCalls = sizes.map((size) => size.created.calls);
  const rerunCalls = sizes.map((size) => size.rerun.calls);
  const spread = (values: number[]) => Math.max(...values) - Math.min(...values);
  const fleets = sizes.map((size) => size.fleet).join(', ');
  return [
    {
      target: `one cluster's event reconcile: API calls do not grow with the fleet (fleets of ${fleets})`,
      verdict:
        spread(createdCalls) <= CLUSTER_EVENTS_CALL_GROWTH && spread(rerunCalls) <= CLUSTER_EVENTS_CALL_GROWTH
          ? 'PASS'
          : 'MISS',
      measured: `created ${createdCalls.join(' / ')} calls, rerun ${rerunCalls.join(' / ')} calls`,
    },
    {
      target: 'a duplicate event (rerun) makes no write',
      verdict: sizes.every((size) => size.rerun.writes === 0) ? 'PASS' : 'MISS',
      measured: sizes.map((size) => `${size.rerun.writes} writes`).join(' / '),
    },
  ];
}

function clusterEventsMarkdown(sizes: ClusterEventsSizeResult[]): string[] {
  return [
    '## Cluster events',
    '',
    'A fleet of clusters reconciled once by the full run; then one more cluster is created and the event path',
    '(`reconcileCluster`) reconciles only it, twice: the first makes its roles, the second is a duplicate event.',
    'ACTIVE to role is the worst case: the consumer looks again every poll interval, so a cluster may wait one',
    'whole interval after it turns ACTIVE, then the reconcile runs (SQS delivery adds well under a second).',
    '',
    '| fleet | created: wall (ms) | calls | writes | rerun: wall (ms) | calls | writes | poll (s) | worst ACTIVE → role (s) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...sizes.map(
      (size) =>
        `| ${size.fleet} | ${size.created.wallMs} | ${size.created.calls} | ${size.created.writes} | ${size.rerun.wallMs} | ${size.rerun.calls} | ${size.rerun.writes} | ${size.pollSeconds} | ${size.worstActiveToRoleSeconds} |`,
    ),
    '',
    ...sizes.map(
      (size) => `- fleet ${size.fleet}, created cluster's calls: ${formatCalls(size.created.apiCalls)}`,
    ),
    '',
  ];
}
