import { createHandler, MAX_ANSWER_CHANGE_BYTES } from '../../../functions/reconcile';
import { createAwsClients } from '../../../lib/aws/clients';
import { AwsCallError, InvalidEventError, ReconcileFailedError } from '../../../lib/errors';
import { createMetrics } from '../../../lib/observability/metrics';
import { reconcile } from '../../../lib/reconciler/index';
import { captureLogs, lambdaContext, loadEvent, reconcilerConfig, report } from '../lambda/support';

jest.mock('../../../lib/reconciler/index', () => ({ reconcile: jest.fn(), teardown: jest.fn() }));
const mockedReconcile = jest.mocked(reconcile);

const clients = createAwsClients({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
});

function setup() {
  const logs = captureLogs();
  const handler = createHandler({
    clients,
    logger: logs.logger,
    loadConfig: async () => reconcilerConfig({ allowForcePruneOnInvoke: true }),
  });
  return { ...logs, invoke: (event: unknown) => handler(event, lambdaContext()) };
}

describe('the scheduled reconcile handler', () => {
  beforeEach(() => {
    mockedReconcile.mockReset();
    mockedReconcile.mockResolvedValue(report());
  });

  it('reconciles on the EventBridge schedule and returns the counts', async () => {
    const { invoke } = setup();

    const result = await invoke(loadEvent('scheduled'));

    expect(mockedReconcile).toHaveBeenCalledWith(
      expect.anything(),
      reconcilerConfig({ allowForcePruneOnInvoke: true }),
    );
    expect(result).toMatchObject({
      dryRun: false,
      counts: report().counts,
      apiCalls: { 'IAM:ListRoles': 1 },
    });
  });

  it('fails the invocation after the run when a region is unknown, logging it as retryable', async () => {
    // Prepare
    const { invoke, lines } = setup();
    mockedReconcile.mockResolvedValue(
      report({
        failed: true,
        regions: [
          { region: 'eu-west-1', status: 'complete', clusters: 2 },
          {
            region: 'us-west-2',
            status: 'unknown',
            clusters: 0,
            error: 'EKS:ListClusters failed: ECONNREFUSED',
          },
        ],
      }),
    );

    // Act
    const outcome = invoke(loadEvent('scheduled'));

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ReconcileFailedError);
    await expect(outcome).rejects.toThrow('region us-west-2 unknown (EKS:ListClusters failed: ECONNREFUSED)');
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'reconcile invocation failed',
        classification: 'retryable',
      }),
    );
  });

  it('classifies a failed action that will not pass by waiting as terminal', async () => {
    // Prepare
    const { invoke, lines } = setup();
    mockedReconcile.mockResolvedValue(
      report({
        failed: true,
        results: [
          {
            action: {
              kind: 'put-policy',
              roleName: 'irsa-a',
              policyName: 's3',
              document: { Version: '2012-10-17', Statement: [] },
            },
            outcome: {
              status: 'failed',
              error: 'PutRolePolicy failed: MalformedPolicyDocument',
              retryable: false,
            },
          },
        ],
      }),
    );

    // Act
    await expect(invoke(loadEvent('scheduled'))).rejects.toThrow(
      'put-policy irsa-a/s3 failed (PutRolePolicy failed: MalformedPolicyDocument)',
    );

    // Assess
    expect(lines).toContainEqual(expect.objectContaining({ level: 'ERROR', classification: 'terminal' }));
  });

  it('fails the invocation with the classified error when the reconcile throws', async () => {
    const { invoke, lines } = setup();
    mockedReconcile.mockRejectedValue(
      new AwsCallError('IAM:ListRoles', 'Throttling', 'Rate exceeded', { retryable: true }),
    );

    await expect(invoke(loadEvent('scheduled'))).rejects.toThrow(
      'IAM:ListRoles failed: Throttling: Rate exceeded',
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        classification: 'retryable',
        reason: 'AwsCallError: IAM:ListRoles failed: Throttling: Rate exceeded',
      }),
    );
  });

  it('runs a manual {"dryRun": true} invoke as a dry run without changing the configuration', async () => {
    const { invoke } = setup();

    await invoke({ dryRun: true });

    expect(mockedReconcile.mock.calls[0]?.[1]).toEqual(
      reconcilerConfig({ dryRun: true, allowForcePruneOnInvoke: true }),
    );
  });

  it('lifts the deletion guard for a manual {"forcePrune": true} invoke only', async () => {
    const { invoke } = setup();

    await invoke({ forcePrune: true });
    await invoke(loadEvent('scheduled'));

    expect(mockedReconcile.mock.calls[0]?.[1].forcePrune).toBe(true);
    expect(mockedReconcile.mock.calls[1]?.[1].forcePrune).toBe(false);
  });

  it('refuses a manual {"forcePrune": true} unless the deployment allows it, and reconciles nothing', async () => {
    // Prepare
    const handler = createHandler({
      clients,
      logger: captureLogs().logger,
      loadConfig: async () => reconcilerConfig(),
    });

    // Act
    const outcome = handler({ forcePrune: true }, lambdaContext());

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(InvalidEventError);
    await expect(outcome).rejects.toThrow('does not set allowForcePruneOnInvoke');
    expect(mockedReconcile).not.toHaveBeenCalled();
  });

  it('reads the configuration through the loader it was given, on every invocation', async () => {
    // Prepare
    const loadConfig = jest.fn(async () => reconcilerConfig({ tags: { team: 'platform' } }));
    const handler = createHandler({ clients, logger: captureLogs().logger, loadConfig });

    // Act
    await handler(loadEvent('scheduled'), lambdaContext());
    await handler({ dryRun: true }, lambdaContext());

    // Assess
    expect(loadConfig).toHaveBeenCalledTimes(2);
    expect(mockedReconcile.mock.calls.map((call) => call[1].tags)).toEqual([
      { team: 'platform' },
      { team: 'platform' },
    ]);
  });

  it('never turns off a configured dry run from a manual payload', async () => {
    const logs = captureLogs();
    const handler = createHandler({
      clients,
      logger: logs.logger,
      loadConfig: async () => reconcilerConfig({ dryRun: true }),
    });

    await handler({ dryRun: false }, lambdaContext());

    expect(mockedReconcile.mock.calls[0]?.[1].dryRun).toBe(true);
  });

  it.each([
    [{ dryrun: true }, 'Invalid manual invocation payload'],
    [
      { ...loadEvent('scheduled'), 'detail-type': 'Object Created', source: 'aws.s3' },
      'expected an EventBridge "Scheduled Event"',
    ],
    ['run please', 'expected an EventBridge "Scheduled Event"'],
  ])('rejects an event it does not know (%#) without reconciling', async (event, message) => {
    const { invoke } = setup();

    const outcome = invoke(event);

    await expect(outcome).rejects.toBeInstanceOf(InvalidEventError);
    await expect(outcome).rejects.toThrow(message);
    expect(mockedReconcile).not.toHaveBeenCalled();
  });
});

describe("the scheduled reconcile handler's metrics", () => {
  beforeEach(() => {
    mockedReconcile.mockReset();
  });

  it('publishes one EMF document per run with what changed, what was held back and what it cost', async () => {
    // Prepare
    const documents: Record<string, unknown>[] = [];
    const metrics = createMetrics({
      namespace: 'IrsaReconciler',
      service: 'irsa-reconciler',
      dimensions: { Stage: 'uat' },
      write: (line) => documents.push(JSON.parse(line)),
    });
    mockedReconcile.mockResolvedValue(
      report({
        pruneBlocked: { wouldDelete: 6, owned: 8, maxPruneFraction: 0.5 },
        regions: [
          { region: 'eu-west-1', status: 'complete', clusters: 2 },
          { region: 'us-east-1', status: 'unknown', clusters: 0, error: 'x' },
        ],
        failed: true,
        apiCalls: { 'IAM:ListRoles': 2, 'EKS:ListClusters': 3 },
      }),
    );
    const handler = createHandler({
      clients,
      logger: captureLogs().logger,
      metrics,
      loadConfig: async () => reconcilerConfig(),
    });

    // Act
    await expect(handler(loadEvent('scheduled'), lambdaContext())).rejects.toThrow();

    // Assess
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({
      Stage: 'uat',
      Created: 2,
      Updated: 1,
      Deleted: 0,
      Unchanged: 3,
      Skipped: 0,
      Failed: 0,
      PruneBlocked: 6,
      RegionsUnknown: 1,
      Drift: 0,
      ApiCalls: 5,
      RunFailed: 1,
    });
    expect(JSON.stringify(documents[0])).toContain('"Namespace":"IrsaReconciler"');
  });
});

describe('a manual dry run of the scheduled function', () => {
  beforeEach(() => {
    mockedReconcile.mockReset();
  });

  it('answers with every planned change, cut with a count when they would not fit the answer', async () => {
    // Prepare: more planned changes than fit MAX_ANSWER_CHANGE_BYTES
    const longReason = 'x'.repeat(10_000);
    const count = Math.ceil(MAX_ANSWER_CHANGE_BYTES / 10_000) + 50;
    mockedReconcile.mockResolvedValue(
      report({
        dryRun: true,
        results: Array.from({ length: count }, (_, index) => ({
          action: { kind: 'delete' as const, roleName: `irsa-${index}`, reason: longReason },
          outcome: { status: 'planned' as const },
        })),
      }),
    );
    const handler = createHandler({
      clients,
      logger: captureLogs().logger,
      loadConfig: async () => reconcilerConfig({ dryRun: true }),
    });

    // Act
    const summary = await handler({ dryRun: true }, lambdaContext());

    // Assess
    const shown = summary.changes?.length ?? 0;
    expect(shown).toBeGreaterThan(0);
    expect(shown + (summary.changesNotShown ?? 0)).toBe(count);
    expect(summary.changesNotShown).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify(summary))).toBeLessThan(6 * 1024 * 1024);
    expect(summary.changes?.[0]).toEqual({
      action: 'delete',
      target: 'irsa-0',
      detail: longReason,
      outcome: 'planned',
    });
  });
});
