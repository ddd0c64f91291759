import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createHandler } from '../../functions/custom-resource';
import { type DeployedConfigLocation, readDeployedConfig } from '../../lib/lambda/deployed-config';
import { silentLogger } from '../../lib/observability/logger';
import { TAG_CLUSTER, TAG_REGION, TAG_STAGE } from '../../lib/reconciler/ownership';
import {
  createBoundaryPolicy,
  createCluster,
  createForeignRole,
  deployReconcilerConfig,
  emulatorClients,
  readAllRoles,
} from '../support/emulator-fixtures';
import { type MotoServer, startMotoServer } from '../support/moto-server';
import { type StackStatusFront, startStackStatusFront } from '../support/stack-status-front';
import {
  closedPort,
  lambdaContext,
  loadEvent,
  loadWithEnv,
  type ResponseServer,
  restoreEnv,
  startResponseServer,
} from '../unit/lambda/support';

const ROLE_PATH = '/irsa-reconciler/uat/';

/** A server that accepts connections and never answers: an AWS call that hangs. */
async function startBlackHole(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Owned roles as `<region>/<cluster>` → inline policy names. */
function ownedRoles(roles: Awaited<ReturnType<typeof readAllRoles>>): Record<string, string[]> {
  return Object.fromEntries(
    Object.values(roles)
      .filter((role) => role.path === ROLE_PATH && role.tags[TAG_STAGE] === 'uat')
      .map((role) => [
        `${role.tags[TAG_REGION]}/${role.tags[TAG_CLUSTER]}/${role.roleName}`,
        Object.keys(role.inlinePolicies),
      ]),
  );
}

/** The configuration the stack wrote (version 1), and the one a later deploy writes (version 2). */
const DEPLOYED = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'config', 'deployed.json'), 'utf8'),
);
const UPDATED = {
  ...DEPLOYED,
  bindings: [
    ...DEPLOYED.bindings,
    {
      name: 'metrics',
      namespace: 'agents',
      serviceAccount: 'metrics-agent',
      policies: [
        { template: 's3-prefix-access', params: { BucketName: 'acme-agent-metrics', Prefix: 'metrics' } },
      ],
    },
  ],
};
const STACK_ID = String(loadEvent('create').StackId);

describe('the custom resource handler against the emulator', () => {
  let moto: MotoServer;
  let front: StackStatusFront;
  let cfn: ResponseServer;
  /** Where the deployment wrote its configuration versions (1: DEPLOYED, 2: UPDATED). */
  let deployed: DeployedConfigLocation[];
  beforeAll(async () => {
    moto = await startMotoServer();
    front = await startStackStatusFront(moto.endpoint);
    cfn = await startResponseServer();
  });
  afterAll(async () => {
    await cfn.close();
    await front.stop();
    await moto.stop();
  });

  const admin = () => emulatorClients(moto.endpoint);

  beforeEach(async () => {
    await moto.reset();
    cfn.requests.length = 0;
    front.setStatus(STACK_ID, 'UPDATE_IN_PROGRESS');
    await createBoundaryPolicy(admin(), DEPLOYED.permissionsBoundaryArn);
    const first = await deployReconcilerConfig(admin(), DEPLOYED);
    const second = await deployReconcilerConfig(admin(), UPDATED, { application: 'second-deploy' });
    deployed = [first, second];
    await createCluster(admin(), 'eu-west-1', 'alpha');
    await createCluster(admin(), 'eu-west-1', 'sandbox-1');
    await createCluster(admin(), 'us-east-1', 'gamma');
    await createForeignRole(admin(), { name: 'irsa-lookalike', path: ROLE_PATH });
    await createForeignRole(admin(), { name: 'ci-deployer', path: '/ci/' });
  });

  /** The handler of the deployment whose current configuration is `version` (1 or 2). */
  function handlerWith(
    overrides: {
      eksEndpoints?: Record<string, string>;
      endpoint?: string;
      timeoutMarginMs?: number;
      version?: 1 | 2;
    } = {},
  ) {
    const clients = emulatorClients(overrides.endpoint ?? front.endpoint, {
      ...(overrides.eksEndpoints ? { eksEndpoints: overrides.eksEndpoints } : {}),
      maxAttempts: 1,
    });
    const location = deployed[(overrides.version ?? 1) - 1];
    if (!location) throw new Error('no deployed configuration');
    return createHandler({
      clients,
      logger: silentLogger,
      stage: 'uat',
      region: 'eu-west-1',
      deployment: { stackId: STACK_ID, configVersion: location.version },
      loadConfig: () => readDeployedConfig(clients, location, { stage: 'uat', region: 'eu-west-1' }),
      responseUrlPolicy: { allowLoopbackHttp: true },
      ...(overrides.timeoutMarginMs ? { timeoutMarginMs: overrides.timeoutMarginMs } : {}),
    });
  }

  function eventOf<K extends 'create' | 'update' | 'delete'>(
    kind: K,
    physicalResourceId?: string,
    version: 1 | 2 = 1,
  ) {
    const event = loadEvent(kind);
    event.ResponseURL = cfn.responseUrl(`${kind}/${event.RequestId}`);
    event.ResourceProperties.ConfigVersion = deployed[version - 1]?.version;
    if (physicalResourceId && event.RequestType !== 'Create') event.PhysicalResourceId = physicalResourceId;
    return event;
  }

  it('creates a role per cluster and binding and PUTs SUCCESS with counts to the ResponseURL', async () => {
    // Act
    await handlerWith()(eventOf('create'), lambdaContext());

    // Assess
    expect(cfn.requests).toHaveLength(1);
    const [request] = cfn.requests;
    expect(request?.method).toBe('PUT');
    expect(request?.url).toMatch(/^\/create\/9d2f7c1e-.*X-Amz-Signature=/);
    expect(request?.headers['content-type']).toBe('');
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(request?.body ?? '')));
    expect(cfn.bodies()[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'irsa-reconciler-uat',
      RequestId: '9d2f7c1e-4b3a-4e6f-8a1d-2c5b7e9f0a13',
      Data: { Created: '2', Deleted: '0', Failed: '0', DryRun: 'false' },
    });
    const owned = ownedRoles(await readAllRoles(admin()));
    expect(Object.keys(owned).map((key) => key.split('/').slice(0, 2).join('/'))).toEqual(
      expect.arrayContaining(['eu-west-1/alpha', 'us-east-1/gamma']),
    );
    expect(Object.keys(owned)).toHaveLength(2);
  });

  it('applies the configuration of a later deploy on Update and keeps the same PhysicalResourceId', async () => {
    // Prepare
    await handlerWith()(eventOf('create'), lambdaContext());
    const created = cfn.bodies()[0];

    // Act
    await handlerWith({ version: 2 })(
      eventOf('update', String(created?.PhysicalResourceId), 2),
      lambdaContext(),
    );

    // Assess
    const updated = cfn.bodies()[1];
    expect(updated).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: created?.PhysicalResourceId,
      Data: { Created: '2' },
    });
    const owned = ownedRoles(await readAllRoles(admin()));
    expect(Object.keys(owned)).toHaveLength(4);
    expect(Object.keys(owned).filter((key) => key.includes('metrics'))).toHaveLength(2);
  });

  it('removes every owned role on Delete while the stack is deleted, and leaves unrelated roles alone', async () => {
    // Prepare
    await handlerWith()(eventOf('create'), lambdaContext());
    await handlerWith({ version: 2 })(eventOf('update', 'irsa-reconciler-uat', 2), lambdaContext());
    front.setStatus(STACK_ID, 'DELETE_IN_PROGRESS');

    // Act
    await handlerWith({ version: 2 })(eventOf('delete', 'irsa-reconciler-uat', 2), lambdaContext());

    // Assess
    expect(cfn.bodies()[2]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'irsa-reconciler-uat',
      Data: { Deleted: '4' },
    });
    const roles = await readAllRoles(admin());
    expect(ownedRoles(roles)).toEqual({});
    expect(Object.keys(roles).sort()).toEqual(['ci-deployer', 'irsa-lookalike']);
    expect(Object.keys(roles['irsa-lookalike']?.inlinePolicies ?? {})).toEqual(['own-policy']);
  });

  describe('forged requests change no role', () => {
    /** The roles after a legitimate Create, to compare against after each forged request. */
    async function afterLegitimateCreate() {
      await handlerWith()(eventOf('create'), lambdaContext());
      cfn.requests.length = 0;
      return readAllRoles(admin());
    }

    const FORGED_CONFIG = JSON.stringify({
      ...DEPLOYED,
      bindings: [
        {
          name: 'everything',
          namespace: 'default',
          serviceAccount: 'default',
          policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: ['a', 'b', 'c'] } }],
        },
      ],
    });

    it.each(['create', 'update', 'delete'] as const)(
      'a %s carrying another configuration and version: FAILED, nothing changed',
      async (kind) => {
        // Prepare
        const before = await afterLegitimateCreate();
        front.setStatus(STACK_ID, 'DELETE_IN_PROGRESS');
        const event = eventOf(kind, 'irsa-reconciler-uat');
        event.ResourceProperties.Config = FORGED_CONFIG;
        event.ResourceProperties.ConfigVersion = '999';

        // Act
        await handlerWith()(event, lambdaContext());

        // Assess
        expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
        expect(String(cfn.bodies()[0]?.Reason)).toContain('ConfigVersion "999"');
        expect(await readAllRoles(admin())).toEqual(before);
      },
    );

    it('a Create carrying another configuration but the right version: the deployed one is applied', async () => {
      // Prepare
      const before = await afterLegitimateCreate();
      const event = eventOf('create');
      event.ResourceProperties.Config = FORGED_CONFIG;

      // Act
      await handlerWith()(event, lambdaContext());

      // Assess
      expect(cfn.bodies()[0]).toMatchObject({ Status: 'SUCCESS', Data: { Created: '0', Unchanged: '2' } });
      expect(await readAllRoles(admin())).toEqual(before);
    });

    it.each(['create', 'update', 'delete'] as const)(
      'a %s from another stack: FAILED, nothing changed',
      async (kind) => {
        // Prepare
        const before = await afterLegitimateCreate();
        front.setStatus(STACK_ID, 'DELETE_IN_PROGRESS');
        const event = eventOf(kind, 'irsa-reconciler-uat');
        event.StackId = STACK_ID.replace('irsa-reconciler-uat', 'attacker-stack');

        // Act
        await handlerWith()(event, lambdaContext());

        // Assess
        expect(String(cfn.bodies()[0]?.Reason)).toContain("is not this deployment's stack");
        expect(await readAllRoles(admin())).toEqual(before);
      },
    );

    it.each(['create', 'update', 'delete'] as const)(
      'a %s whose ResponseURL is plain http: no answer sent, nothing changed',
      async (kind) => {
        // Prepare
        const before = await afterLegitimateCreate();
        front.setStatus(STACK_ID, 'DELETE_IN_PROGRESS');
        const event = eventOf(kind, 'irsa-reconciler-uat');
        event.ResponseURL =
          'http://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x?X-Amz-Signature=1';

        // Act
        const outcome = handlerWith()(event, lambdaContext());

        // Assess
        await expect(outcome).rejects.toThrow(/ResponseURL .* is not an https URL on an S3 host/);
        expect(cfn.requests).toHaveLength(0);
        expect(await readAllRoles(admin())).toEqual(before);
      },
    );

    it('a Delete with every id right while the stack is not being deleted: FAILED, nothing changed', async () => {
      // Prepare
      const before = await afterLegitimateCreate();
      front.setStatus(STACK_ID, 'UPDATE_COMPLETE');

      // Act
      await handlerWith()(eventOf('delete', 'irsa-reconciler-uat'), lambdaContext());

      // Assess
      expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
      expect(String(cfn.bodies()[0]?.Reason)).toContain('is UPDATE_COMPLETE');
      expect(front.described).toContain(STACK_ID);
      expect(await readAllRoles(admin())).toEqual(before);
    });
  });

  it('answers FAILED with a readable Reason when IAM cannot be reached', async () => {
    // Prepare
    const unreachable = `http://127.0.0.1:${await closedPort()}`;

    // Act
    const result = await handlerWith({ endpoint: unreachable })(eventOf('create'), lambdaContext());

    // Assess
    const [body] = cfn.bodies();
    expect(body?.Status).toBe('FAILED');
    expect(body?.Reason).toMatch(/ECONNREFUSED/);
    expect(body?.Reason).not.toMatch(/\{\}|\[object Object\]/);
    expect(result).toMatchObject({ Status: 'FAILED' });
  });

  it('answers FAILED at the ResponseURL of an event without RequestType', async () => {
    const event: Record<string, unknown> = eventOf('create');
    delete event.RequestType;

    await handlerWith()(event, lambdaContext());

    expect(cfn.bodies()).toEqual([expect.objectContaining({ Status: 'FAILED', RequestId: event.RequestId })]);
    expect(String(cfn.bodies()[0]?.Reason)).toContain('RequestType');
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });

  it('answers FAILED naming the field of a bad deployed configuration and creates nothing', async () => {
    // Prepare
    const bad = structuredClone(DEPLOYED);
    bad.bindings[0].serviceAccount = 'Report_Agent';
    deployed[0] = await deployReconcilerConfig(admin(), bad, { application: 'bad-deploy' });

    // Act
    await handlerWith()(eventOf('create'), lambdaContext());

    // Assess
    expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.bodies()[0]?.Reason)).toMatch(
      /^Invalid reconciler configuration in AppConfig hosted configuration .* bindings\[0\]\.serviceAccount: /,
    );
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });

  it('lets the Delete after a Create with a bad configuration succeed', async () => {
    // Prepare
    deployed[0] = await deployReconcilerConfig(admin(), { bindings: 'none' }, { application: 'bad-deploy' });
    const handler = handlerWith();
    await handler(eventOf('create'), lambdaContext());
    const failedCreate = cfn.bodies()[0];
    front.setStatus(STACK_ID, 'ROLLBACK_IN_PROGRESS');

    // Act
    await handler(eventOf('delete', String(failedCreate?.PhysicalResourceId)), lambdaContext());

    // Assess
    expect(failedCreate?.Status).toBe('FAILED');
    expect(cfn.bodies()[1]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: failedCreate?.PhysicalResourceId,
    });
  });

  it('cleans up the roles of a partly failed Create on the rollback Delete, and succeeds', async () => {
    // Prepare: us-east-1 is unreachable, so the Create fails after making the eu-west-1 role
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const handler = handlerWith({ eksEndpoints: { 'us-east-1': unreachable } });
    await handler(eventOf('create'), lambdaContext());
    const failedCreate = cfn.bodies()[0];
    const afterCreate = ownedRoles(await readAllRoles(admin()));
    front.setStatus(STACK_ID, 'ROLLBACK_IN_PROGRESS');

    // Act
    await handler(eventOf('delete', String(failedCreate?.PhysicalResourceId)), lambdaContext());

    // Assess
    expect(failedCreate).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'irsa-reconciler-uat' });
    expect(String(failedCreate?.Reason)).toContain('region us-east-1 unknown');
    expect(Object.keys(afterCreate).map((key) => key.split('/').slice(0, 2).join('/'))).toEqual([
      'eu-west-1/alpha',
    ]);
    expect(cfn.bodies()[1]).toMatchObject({ Status: 'SUCCESS', Data: { Deleted: '1' } });
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });

  it('answers FAILED before the Lambda deadline when AWS hangs, and only once', async () => {
    // Prepare
    const blackHole = await startBlackHole();
    const handler = handlerWith({ endpoint: blackHole.endpoint, timeoutMarginMs: 1_000 });
    const context = lambdaContext(2_000);
    const deadline = Date.now() + 2_000;

    try {
      // Act
      const result = await handler(eventOf('create'), context);

      // Assess
      expect(result).toMatchObject({ Status: 'FAILED' });
      expect(cfn.requests).toHaveLength(1);
      expect(cfn.requests[0]?.receivedAt).toBeLessThan(deadline);
      expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'irsa-reconciler-uat' });
      expect(String(cfn.bodies()[0]?.Reason)).toMatch(/^DeadlineExceededError: timed out/);
    } finally {
      await blackHole.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(cfn.requests).toHaveLength(1);
  });

  it('answers FAILED naming the variable from a container whose environment is invalid', async () => {
    // Prepare
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const handler: typeof import('../../functions/custom-resource').handler = loadWithEnv(
        () => require('../../functions/custom-resource').handler,
        { STAGE: '', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: moto.endpoint, STACK_ID },
      );
      const event = eventOf('create');

      // Act
      await handler(event, lambdaContext());
      await handler(eventOf('delete', String(cfn.bodies()[0]?.PhysicalResourceId)), lambdaContext());
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
      restoreEnv();
    }

    // Assess
    expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.bodies()[0]?.Reason)).toContain('STAGE is required');
    expect(cfn.bodies()[1]).toMatchObject({ Status: 'SUCCESS' });
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });
});
