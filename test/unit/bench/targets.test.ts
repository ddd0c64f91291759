import type { IndexerResults, IndexerSizeResult } from '../../../bench/indexer/suite';
import type { MachineInfo } from '../../../bench/machine';
import { steadyStateLowerBound } from '../../../bench/reconciler/fleet';
import type { ReconcilerRun, ReconcilerSizeResult } from '../../../bench/reconciler/suite';
import { type BenchResults, checkTargets } from '../../../bench/report';

const MACHINE = { date: '2026-11-22T00:00:00.000Z', cores: 2 } as MachineInfo;
const MEMORY = { peakRssMb: 150, baselineRssMb: 90, peakHeapMb: 40 };

function run(overrides: Partial<ReconcilerRun>): ReconcilerRun {
  return {
    clusters: 1000,
    variant: 'direct',
    phase: 'steady',
    concurrency: 8,
    latencyMs: 0,
    throttle: {},
    retryMode: 'adaptive',
    wallMs: 10_000,
    processWallMs: 11_000,
    memory: MEMORY,
    apiCalls: {},
    reads: 7_000,
    writes: 0,
    counts: {},
    failed: false,
    failures: [],
    ...overrides,
  };
}

function reconcilerSize(runs: ReconcilerRun[], lowerBoundReads = 7_000): ReconcilerSizeResult {
  return {
    clusters: 1000,
    ceiling: { concurrency: 8, directPerSecond: 200, latencyPerSecond: 150, sequentialLatencyPerSecond: 25 },
    regions: {},
    census: {
      listClustersPages: {},
      clusters: 1000,
      listRolesPages: 2,
      roles: 2000,
      inlinePolicies: 3000,
      authorizationDetailsPages: 1,
    },
    lowerBound: {},
    lowerBoundReads,
    runs,
  };
}

function indexerSize(versions: number, coldMs: number, helmMs: number, peakRssMb = 150): IndexerSizeResult {
  return {
    versions,
    indexBytes: versions * 300,
    bucketCharts: versions,
    incremental: {
      coldMs,
      warmMs: coldMs / 2,
      samplesMs: [],
      memory: { ...MEMORY, peakRssMb },
      apiCallsPerEvent: {},
    },
    helmMerge: { medianMs: helmMs, samplesMs: [helmMs], peakRssMb: 80 },
    helmFull: { wallMs: 1000, peakRssMb: 80, chartsPerSecond: versions },
  };
}

function results(parts: { reconciler?: ReconcilerSizeResult[]; indexer?: IndexerResults }): BenchResults {
  return { machine: MACHINE, options: {}, durationS: 1, loadAverageEnd: 0, errors: [], ...parts };
}

const verdictOf = (checks: ReturnType<typeof checkTargets>, fragment: string) =>
  checks.find((check) => check.target.includes(fragment))?.verdict;

describe('steadyStateLowerBound', () => {
  it('adds up pages and one describe per cluster: the roles cost only their bulk pages', () => {
    // Act
    const bound = steadyStateLowerBound({
      listClustersPages: { 'eu-west-1': 3, 'us-east-1': 2 },
      clusters: 450,
      listRolesPages: 1,
      roles: 900,
      inlinePolicies: 1350,
      authorizationDetailsPages: 2,
    });

    // Assess
    expect(bound).toEqual({
      'EKS:DescribeCluster': 450,
      'EKS:ListClusters': 5,
      'IAM:GetAccountAuthorizationDetails': 2,
      'IAM:ListOpenIDConnectProviders': 1,
      'STS:GetCallerIdentity': 1,
    });
  });
});

describe('checkTargets', () => {
  it('passes the reconciler targets when the steady state is within bound, write-free and fast', () => {
    // Prepare: 1,000 clusters read with 1,000 DescribeCluster, a few list pages and one bulk IAM read
    const apiCalls = {
      'EKS:DescribeCluster': 1000,
      'EKS:ListClusters': 12,
      'IAM:GetAccountAuthorizationDetails': 1,
      'IAM:ListOpenIDConnectProviders': 1,
      'STS:GetCallerIdentity': 1,
    };
    const size = reconcilerSize(
      [
        run({ reads: 1_015, apiCalls }),
        run({ variant: 'latency', latencyMs: 30, wallMs: 19_000, reads: 1_015, apiCalls }),
      ],
      1_015,
    );

    // Act
    const checks = checkTargets(results({ reconciler: [size] }));

    // Assess
    expect(verdictOf(checks, 'zero writes')).toBe('PASS');
    expect(verdictOf(checks, 'within 10% of the lower bound')).toBe('PASS');
    expect(verdictOf(checks, 'IAM calls at most 5')).toBe('PASS');
    expect(verdictOf(checks, 'calls at most clusters + 20')).toBe('PASS');
    expect(verdictOf(checks, 'with 30 ms latency under 20 s')).toBe('PASS');
  });

  it('misses when a steady run writes, reads over 10% more than the bound, calls IAM per role, or is slow', () => {
    // Prepare
    const perRole = { 'EKS:DescribeCluster': 1000, 'IAM:ListRoleTags': 2000, 'IAM:ListRoles': 2 };
    const size = reconcilerSize([
      run({ reads: 7_701, writes: 1, apiCalls: perRole }),
      run({ variant: 'latency', latencyMs: 30, wallMs: 20_000 }),
    ]);

    // Act
    const checks = checkTargets(results({ reconciler: [size] }));

    // Assess
    expect(verdictOf(checks, 'zero writes')).toBe('MISS');
    expect(verdictOf(checks, 'within 10% of the lower bound')).toBe('MISS');
    expect(verdictOf(checks, 'IAM calls at most 5')).toBe('MISS');
    expect(verdictOf(checks, 'calls at most clusters + 20')).toBe('MISS');
    expect(verdictOf(checks, 'latency under 20 s')).toBe('MISS');
  });

  it('misses the throttling target when a throttled run failed', () => {
    // Prepare
    const size = reconcilerSize([
      run({}),
      run({ variant: 'latency-throttled', failed: true, proxy: { iam: { requests: 10, throttled: 1 } } }),
    ]);

    // Act
    const checks = checkTargets(results({ reconciler: [size] }));

    // Assess
    expect(verdictOf(checks, 'injected throttling')).toBe('MISS');
  });

  it('checks the incremental index update against 500 ms, 200 MB and helm --merge at every size', () => {
    // Prepare
    const fast = { sizes: [indexerSize(1000, 100, 300), indexerSize(10_000, 450, 900, 199)] };
    const slow = { sizes: [indexerSize(1000, 100, 300), indexerSize(10_000, 500, 400)] };

    // Act
    const passing = checkTargets(results({ indexer: fast }));
    const missing = checkTargets(results({ indexer: slow }));

    // Assess
    expect(verdictOf(passing, '10000-version index under 500 ms')).toBe('PASS');
    expect(verdictOf(passing, 'faster than `helm repo index --merge`')).toBe('PASS');
    expect(verdictOf(missing, '10000-version index under 500 ms')).toBe('MISS');
    expect(verdictOf(missing, 'faster than `helm repo index --merge`')).toBe('MISS');
  });

  it('says NOT RUN for targets whose size was not measured', () => {
    // Act
    const checks = checkTargets(results({ indexer: { sizes: [indexerSize(1000, 100, 300)] } }));

    // Assess
    expect(verdictOf(checks, '10000-version index')).toBe('NOT RUN');
    expect(verdictOf(checks, 'zero writes')).toBe('NOT RUN');
  });
});
