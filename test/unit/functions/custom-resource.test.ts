import {
  CloudFormationClient,
  DescribeStacksCommand,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler, createUnconfiguredHandler } from '../../../functions/custom-resource';
import { createAwsClients } from '../../../lib/aws/clients';
import { AwsCallError, ConfigError, InvalidEventError, RefusedRequestError } from '../../../lib/errors';
import { CfnResponseError } from '../../../lib/lambda/cfn-response';
import { silentLogger } from '../../../lib/observability/logger';
import { reconcile, teardown } from '../../../lib/reconciler/index';
import type { ReconcileReport, ReconcilerConfig } from '../../../lib/reconciler/types';
import { lambdaContext, loadEvent, reconcilerConfig, report } from '../lambda/support';

jest.mock('../../../lib/reconciler/index', () => ({ reconcile: jest.fn(), teardown: jest.fn() }));
const mockedReconcile = jest.mocked(reconcile);
const mockedTeardown = jest.mocked(teardown);
const cloudformation = mockClient(CloudFormationClient);

const clients = createAwsClients({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
});

/** The deployment the fixtures' events come from: their StackId and configuration version. */
const DEPLOYMENT = { stackId: String(loadEvent('create').StackId), configVersion: '3' };

const DEPLOYED_CONFIG = reconcilerConfig({
  regions: ['eu-west-1', 'us-east-1'],
  bindings: [
    { name: 'reports', namespace: 'agents', serviceAccount: 'report-agent', policies: [], mode: 'irsa' },
    { name: 'metrics', namespace: 'agents', serviceAccount: 'metrics-agent', policies: [], mode: 'irsa' },
  ],
});

function stackIs(status: StackStatus): void {
  cloudformation.on(DescribeStacksCommand, { StackName: DEPLOYMENT.stackId }).resolves({
    Stacks: [{ StackName: 'irsa-reconciler-uat', StackStatus: status, CreationTime: new Date() }],
  });
}

function setup(
  options: {
    timeoutMarginMs?: number;
    failSend?: boolean;
    loadConfig?: () => Promise<ReconcilerConfig>;
  } = {},
) {
  const sent: Array<{ url: string; body: Record<string, unknown> }> = [];
  const sendResponse = jest.fn(async (url: string, body: string) => {
    sent.push({ url, body: JSON.parse(body) });
    if (options.failSend) throw new CfnResponseError('PUT to ResponseURL answered HTTP 403: AccessDenied');
  });
  const loadConfig = jest.fn(options.loadConfig ?? (async () => DEPLOYED_CONFIG));
  const handler = createHandler({
    clients,
    logger: silentLogger,
    stage: 'uat',
    region: 'eu-west-1',
    deployment: DEPLOYMENT,
    loadConfig,
    sendResponse,
    timeoutMarginMs: options.timeoutMarginMs ?? 10_000,
  });
  const invoke = (event: unknown, context: Context = lambdaContext()) => handler(event, context);
  return { sent, sendResponse, invoke, loadConfig };
}

const failedAction = (error: string): ReconcileReport['results'][number] => ({
  action: { kind: 'delete', roleName: 'irsa-euw1-alpha-reports-1a2b3c', reason: 'cluster gone' },
  outcome: { status: 'failed', error, retryable: false },
});

describe('the custom resource handler', () => {
  beforeEach(() => {
    cloudformation.reset();
    stackIs('DELETE_IN_PROGRESS');
    mockedReconcile.mockReset();
    mockedTeardown.mockReset();
    mockedReconcile.mockResolvedValue(report());
    mockedTeardown.mockResolvedValue(report({ counts: { ...report().counts, created: 0, deleted: 4 } }));
  });

  describe('on Create and Update', () => {
    it('reconciles the deployed configuration and answers SUCCESS with the stable id and counts as strings', async () => {
      // Prepare
      const { sent, invoke } = setup();
      const event = loadEvent('create');

      // Act
      const result = await invoke(event);

      // Assess
      expect(mockedReconcile).toHaveBeenCalledTimes(1);
      const config = mockedReconcile.mock.calls[0]?.[1];
      expect(config).toMatchObject({
        stage: 'uat',
        deploymentRegion: 'eu-west-1',
        regions: ['eu-west-1', 'us-east-1'],
      });
      expect(config?.bindings.map((binding) => binding.name)).toEqual(['reports', 'metrics']);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.url).toBe(event.ResponseURL);
      expect(sent[0]?.body).toEqual({
        Status: 'SUCCESS',
        PhysicalResourceId: 'irsa-reconciler-uat',
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: 'IrsaReconciler',
        Data: {
          Created: '2',
          Updated: '1',
          Deleted: '0',
          Unchanged: '3',
          Skipped: '0',
          Failed: '0',
          DryRun: 'false',
          PruneBlocked: '0',
          Drift: '0',
        },
      });
      expect(result).toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'irsa-reconciler-uat' });
    });

    it('succeeds but reports the deletes the deletion guard held back', async () => {
      const { sent, invoke } = setup();
      mockedReconcile.mockResolvedValue(
        report({ pruneBlocked: { wouldDelete: 6, owned: 8, maxPruneFraction: 0.5 } }),
      );

      await invoke(loadEvent('update'));

      expect(sent[0]?.body).toMatchObject({ Status: 'SUCCESS', Data: { PruneBlocked: '6' } });
    });

    it('keeps the PhysicalResourceId of the event on Update, so CloudFormation never replaces the resource', async () => {
      const { sent, invoke } = setup();
      const event = loadEvent('update');
      event.PhysicalResourceId = 'irsa-reconciler-uat-from-an-older-release';

      await invoke(event);

      expect(sent[0]?.body).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: 'irsa-reconciler-uat-from-an-older-release',
      });
      expect(mockedReconcile.mock.calls[0]?.[1].bindings.map((binding) => binding.name)).toEqual([
        'reports',
        'metrics',
      ]);
    });

    it('answers FAILED listing what failed when the run reports failures', async () => {
      // Prepare
      const { sent, invoke } = setup();
      mockedReconcile.mockResolvedValue(
        report({
          failed: true,
          regions: [
            { region: 'us-east-1', status: 'unknown', clusters: 0, error: 'ListClusters: ECONNREFUSED' },
          ],
          results: [failedAction('DeleteRole failed: AccessDenied: not authorized')],
        }),
      );

      // Act
      await invoke(loadEvent('create'));

      // Assess
      expect(sent).toHaveLength(1);
      expect(sent[0]?.body.Status).toBe('FAILED');
      expect(sent[0]?.body.PhysicalResourceId).toBe('irsa-reconciler-uat');
      expect(sent[0]?.body.Reason).toContain('region us-east-1 unknown (ListClusters: ECONNREFUSED)');
      expect(sent[0]?.body.Reason).toContain(
        'delete irsa-euw1-alpha-reports-1a2b3c failed (DeleteRole failed: AccessDenied: not authorized)',
      );
      expect(sent[0]?.body.Reason).toContain('CloudWatch log stream 2026/11/22/[$LATEST]');
    });

    it('answers FAILED naming the field of an invalid deployed configuration, without touching AWS', async () => {
      // Prepare
      const { sent, invoke } = setup({
        loadConfig: async () => {
          throw new ConfigError(
            'Invalid reconciler configuration in AppConfig ...: bindings[0].namespace: bad',
          );
        },
      });
      const event = loadEvent('create');

      // Act
      await invoke(event);

      // Assess
      expect(mockedReconcile).not.toHaveBeenCalled();
      expect(sent[0]?.body.Status).toBe('FAILED');
      expect(sent[0]?.body.Reason).toMatch(
        /^Invalid reconciler configuration in AppConfig .*bindings\[0\]\.namespace: /,
      );
      expect(sent[0]?.body.PhysicalResourceId).toBe(`irsa-reconciler-not-created-${event.RequestId}`);
    });

    it('answers FAILED with a readable Reason when the reconcile throws, and ends the invocation normally', async () => {
      // Prepare
      const { sent, invoke } = setup();
      mockedReconcile.mockRejectedValue(
        new AwsCallError(
          'STS:GetCallerIdentity',
          'ExpiredToken',
          'The security token included in the request is expired',
          {
            retryable: false,
          },
        ),
      );

      // Act
      const result = await invoke(loadEvent('create'));

      // Assess
      expect(sent).toHaveLength(1);
      expect(sent[0]?.body.Status).toBe('FAILED');
      expect(sent[0]?.body.PhysicalResourceId).toBe('irsa-reconciler-uat');
      expect(sent[0]?.body.Reason).toMatch(
        /^AwsCallError: STS:GetCallerIdentity failed: ExpiredToken: The security token included in the request is expired/,
      );
      expect(result).toMatchObject({ Status: 'FAILED' });
    });
  });

  describe('on Delete', () => {
    it('tears down with the deployed configuration while the stack is being deleted, and answers SUCCESS', async () => {
      const { sent, invoke } = setup();

      await invoke(loadEvent('delete'));

      expect(mockedTeardown).toHaveBeenCalledTimes(1);
      expect(mockedTeardown.mock.calls[0]?.[1]).toBe(DEPLOYED_CONFIG);
      expect(mockedReconcile).not.toHaveBeenCalled();
      expect(sent[0]?.body).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: 'irsa-reconciler-uat',
        Data: { Deleted: '4' },
      });
    });

    it.each<StackStatus>(['ROLLBACK_IN_PROGRESS', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'])(
      'tears down while the stack is %s',
      async (status) => {
        stackIs(status);
        const { sent, invoke } = setup();

        await invoke(loadEvent('delete'));

        expect(mockedTeardown).toHaveBeenCalledTimes(1);
        expect(sent[0]?.body.Status).toBe('SUCCESS');
      },
    );

    it.each<StackStatus>(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_IN_PROGRESS'])(
      'refuses a Delete while the stack is %s: nothing is torn down, FAILED',
      async (status) => {
        // Prepare
        stackIs(status);
        const { sent, invoke } = setup();

        // Act
        await invoke(loadEvent('delete'));

        // Assess
        expect(mockedTeardown).not.toHaveBeenCalled();
        expect(sent[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'irsa-reconciler-uat' });
        expect(sent[0]?.body.Reason).toContain(`Delete refused: stack ${DEPLOYMENT.stackId} is ${status}`);
      },
    );

    it('refuses a Delete when CloudFormation does not know the stack', async () => {
      cloudformation.on(DescribeStacksCommand).rejects(
        Object.assign(new Error(`Stack with id ${DEPLOYMENT.stackId} does not exist`), {
          name: 'ValidationError',
        }),
      );
      const { sent, invoke } = setup();

      await invoke(loadEvent('delete'));

      expect(mockedTeardown).not.toHaveBeenCalled();
      expect(sent[0]?.body.Reason).toContain('is not found');
    });

    it('answers FAILED when the teardown could not delete a role', async () => {
      const { sent, invoke } = setup();
      mockedTeardown.mockResolvedValue(
        report({ failed: true, results: [failedAction('DeleteRole failed: Throttling')] }),
      );

      await invoke(loadEvent('delete'));

      expect(sent[0]?.body.Status).toBe('FAILED');
      expect(sent[0]?.body.Reason).toContain(
        'Teardown left roles behind: delete irsa-euw1-alpha-reports-1a2b3c failed',
      );
    });

    it('succeeds without any AWS call after a Create that failed before it started', async () => {
      // Prepare: the Create answered FAILED for an invalid deployed configuration
      const { sent, invoke } = setup({
        loadConfig: async () => {
          throw new ConfigError('bindings[0].name: invalid');
        },
      });
      await invoke(loadEvent('create'));
      const failedCreate = sent[0]?.body;
      const event = loadEvent('delete');
      event.PhysicalResourceId = String(failedCreate?.PhysicalResourceId);

      // Act
      await invoke(event);

      // Assess
      expect(failedCreate?.Status).toBe('FAILED');
      expect(sent[1]?.body).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: failedCreate?.PhysicalResourceId,
      });
      expect(mockedTeardown).not.toHaveBeenCalled();
      expect(cloudformation.calls()).toHaveLength(0);
    });
  });

  describe('with a request that is not from this deployment', () => {
    it.each(['create', 'update', 'delete'] as const)(
      'refuses a %s from another stack: no role changes, FAILED at the CloudFormation URL',
      async (type) => {
        // Prepare
        const { sent, invoke, loadConfig } = setup();
        const event = loadEvent(type);
        event.StackId = DEPLOYMENT.stackId.replace('irsa-reconciler-uat', 'someone-elses-stack');

        // Act
        await invoke(event);

        // Assess
        expect(mockedReconcile).not.toHaveBeenCalled();
        expect(mockedTeardown).not.toHaveBeenCalled();
        expect(loadConfig).not.toHaveBeenCalled();
        expect(sent[0]?.body.Status).toBe('FAILED');
        expect(sent[0]?.body.Reason).toContain("is not this deployment's stack");
      },
    );

    it.each(['create', 'update', 'delete'] as const)(
      'refuses a %s naming another configuration version (or carrying a Config of its own)',
      async (type) => {
        // Prepare
        const { sent, invoke } = setup();
        const event = loadEvent(type);
        event.ResourceProperties.ConfigVersion = '2';
        event.ResourceProperties.Config = JSON.stringify({ bindings: [{ name: 'x' }] });

        // Act
        await invoke(event);

        // Assess
        expect(mockedReconcile).not.toHaveBeenCalled();
        expect(mockedTeardown).not.toHaveBeenCalled();
        expect(sent[0]?.body.Reason).toContain(
          'ResourceProperties.ConfigVersion "2" is not the configuration version',
        );
      },
    );

    it('never reads a configuration from the event: a Config property is ignored', async () => {
      const { invoke } = setup();
      const event = loadEvent('update');
      event.ResourceProperties.Config = JSON.stringify({ bindings: [], clusters: { include: ['*'] } });

      await invoke(event);

      expect(mockedReconcile.mock.calls[0]?.[1]).toBe(DEPLOYED_CONFIG);
    });

    it.each([
      ['http on S3', 'http://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x'],
      ['https elsewhere', 'https://attacker.example.com/cfn'],
      ['S3 lookalike', 'https://s3.amazonaws.com.attacker.example/x'],
      ['credentials in the URL', 'https://user:pw@bucket.s3.amazonaws.com/x'],
      ['loopback http', 'http://127.0.0.1:8080/x'],
    ])("refuses a ResponseURL that is not CloudFormation's (%s) and answers nothing", async (_case, url) => {
      // Prepare
      const { sendResponse, invoke } = setup();
      const event = loadEvent('delete');
      event.ResponseURL = url;

      // Act
      const outcome = invoke(event);

      // Assess
      await expect(outcome).rejects.toBeInstanceOf(RefusedRequestError);
      expect(sendResponse).not.toHaveBeenCalled();
      expect(mockedTeardown).not.toHaveBeenCalled();
    });
  });

  describe('with an invalid event', () => {
    it('answers FAILED at the ResponseURL it can still read and runs nothing', async () => {
      // Prepare
      const { sent, invoke } = setup();
      const event: Record<string, unknown> = loadEvent('create');
      delete event.RequestType;

      // Act
      const result = await invoke(event);

      // Assess
      expect(mockedReconcile).not.toHaveBeenCalled();
      expect(sent).toHaveLength(1);
      expect(sent[0]?.url).toBe(event.ResponseURL);
      expect(sent[0]?.body).toMatchObject({
        Status: 'FAILED',
        RequestId: event.RequestId,
        StackId: event.StackId,
        PhysicalResourceId: `irsa-reconciler-not-created-${event.RequestId}`,
      });
      expect(sent[0]?.body.Reason).toMatch(
        /^InvalidEventError: Invalid CloudFormation custom resource event: RequestType: /,
      );
      expect(result).toMatchObject({ Status: 'FAILED' });
    });

    it('fails the invocation when there is no ResponseURL to answer', async () => {
      const { sendResponse, invoke } = setup();
      const event: Record<string, unknown> = loadEvent('delete');
      delete event.ResponseURL;

      await expect(invoke(event)).rejects.toBeInstanceOf(InvalidEventError);
      expect(sendResponse).not.toHaveBeenCalled();
    });
  });

  describe('near the Lambda deadline', () => {
    it('answers FAILED "timed out" once before the deadline and drops the late result', async () => {
      // Prepare
      const { sent, invoke } = setup({ timeoutMarginMs: 1_000 });
      let finish: (value: ReconcileReport) => void = () => undefined;
      mockedReconcile.mockImplementation(() => new Promise((resolve) => (finish = resolve)));
      const context = lambdaContext(1_300);
      const deadline = Date.now() + 1_300;

      // Act
      const result = await invoke(loadEvent('create'), context);
      finish(report());
      await new Promise((resolve) => setImmediate(resolve));

      // Assess
      expect(Date.now()).toBeLessThan(deadline);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'irsa-reconciler-uat' });
      expect(sent[0]?.body.Reason).toMatch(/^DeadlineExceededError: timed out/);
      expect(result).toMatchObject({ Status: 'FAILED' });
    });
  });

  it('fails the invocation, without a second PUT, when the response cannot be delivered', async () => {
    const { sendResponse, invoke } = setup({ failSend: true });

    await expect(invoke(loadEvent('create'))).rejects.toBeInstanceOf(CfnResponseError);
    expect(sendResponse).toHaveBeenCalledTimes(1);
  });
});

describe('the custom resource handler of a container with an invalid environment', () => {
  const envError = new ConfigError(
    'Invalid Lambda environment: STAGE is required (the deployment stage, e.g. "uat")',
  );

  function setupUnconfigured() {
    const sent: Array<Record<string, unknown>> = [];
    const handler = createUnconfiguredHandler(envError, silentLogger, async (_url, body) => {
      sent.push(JSON.parse(body));
    });
    return { sent, invoke: (event: unknown) => handler(event, lambdaContext()) };
  }

  it('answers FAILED naming the variable on Create', async () => {
    const { sent, invoke } = setupUnconfigured();
    const event = loadEvent('create');

    await invoke(event);

    expect(sent[0]).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `irsa-reconciler-not-created-${event.RequestId}`,
    });
    expect(sent[0]?.Reason).toContain('STAGE is required');
  });

  it('lets the rollback Delete of that Create succeed', async () => {
    const { sent, invoke } = setupUnconfigured();
    const event = loadEvent('delete');
    event.PhysicalResourceId = 'irsa-reconciler-not-created-9d2f7c1e-4b3a-4e6f-8a1d-2c5b7e9f0a13';

    await invoke(event);

    expect(sent[0]).toMatchObject({ Status: 'SUCCESS' });
  });

  it('refuses to claim a Delete of real roles it cannot identify', async () => {
    const { sent, invoke } = setupUnconfigured();

    await invoke(loadEvent('delete'));

    expect(sent[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'irsa-reconciler-uat' });
    expect(mockedTeardown).not.toHaveBeenCalled();
  });
});
