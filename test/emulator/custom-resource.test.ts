import { createServer, type Socket } from 'node:net';
import { createHandler } from '../../functions/custom-resource';
import { silentLogger } from '../../lib/logger';
import { TAG_CLUSTER, TAG_REGION, TAG_STAGE } from '../../lib/reconciler/types';
import {
  createCluster,
  createForeignRole,
  emulatorClients,
  readAllRoles,
} from '../support/emulator-fixtures';
import { type MotoServer, startMotoServer } from '../support/moto-server';
import {
  closedPort,
  lambdaContext,
  loadEvent,
  loadWithEnv,
  type ResponseServer,
  restoreEnv,
  startResponseServer,
} from '../unit/handlers/support';

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

describe('the custom resource handler against the emulator', () => {
  let moto: MotoServer;
  let cfn: ResponseServer;
  beforeAll(async () => {
    moto = await startMotoServer();
    cfn = await startResponseServer();
  });
  afterAll(async () => {
    await cfn.close();
    await moto.stop();
  });

  const admin = () => emulatorClients(moto.endpoint);

  beforeEach(async () => {
    await moto.reset();
    cfn.requests.length = 0;
    await createCluster(admin(), 'eu-west-1', 'alpha');
    await createCluster(admin(), 'eu-west-1', 'sandbox-1');
    await createCluster(admin(), 'us-east-1', 'gamma');
    await createForeignRole(admin(), { name: 'irsa-lookalike', path: ROLE_PATH });
    await createForeignRole(admin(), { name: 'ci-deployer', path: '/ci/' });
  });

  function handlerWith(
    overrides: { eksEndpoints?: Record<string, string>; endpoint?: string; timeoutMarginMs?: number } = {},
  ) {
    return createHandler({
      clients: emulatorClients(overrides.endpoint ?? moto.endpoint, {
        ...(overrides.eksEndpoints ? { eksEndpoints: overrides.eksEndpoints } : {}),
        maxAttempts: 1,
      }),
      logger: silentLogger,
      stage: 'uat',
      region: 'eu-west-1',
      ...(overrides.timeoutMarginMs ? { timeoutMarginMs: overrides.timeoutMarginMs } : {}),
    });
  }

  function eventOf<K extends 'create' | 'update' | 'delete'>(kind: K, physicalResourceId?: string) {
    const event = loadEvent(kind);
    event.ResponseURL = cfn.responseUrl(`${kind}/${event.RequestId}`);
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

  it('applies a changed Config on Update and keeps the same PhysicalResourceId', async () => {
    // Prepare
    const handler = handlerWith();
    await handler(eventOf('create'), lambdaContext());
    const created = cfn.bodies()[0];

    // Act
    await handler(eventOf('update', String(created?.PhysicalResourceId)), lambdaContext());

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

  it('removes every owned role on Delete and leaves unrelated roles alone', async () => {
    // Prepare
    const handler = handlerWith();
    await handler(eventOf('create'), lambdaContext());
    await handler(eventOf('update', 'irsa-reconciler-uat'), lambdaContext());

    // Act
    await handler(eventOf('delete', 'irsa-reconciler-uat'), lambdaContext());

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

  it('answers FAILED naming the field of a bad Config and creates nothing', async () => {
    const event = eventOf('create');
    const config = JSON.parse(String(event.ResourceProperties.Config));
    config.bindings[0].serviceAccount = 'Report_Agent';
    event.ResourceProperties.Config = JSON.stringify(config);

    await handlerWith()(event, lambdaContext());

    expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.bodies()[0]?.Reason)).toMatch(
      /^Invalid configuration in ResourceProperties\.Config: bindings\[0\]\.serviceAccount: /,
    );
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });

  it('lets the Delete after a Create with a bad Config succeed', async () => {
    // Prepare
    const handler = handlerWith();
    const create = eventOf('create');
    create.ResourceProperties.Config = '{"bindings": "none"}';
    await handler(create, lambdaContext());
    const failedCreate = cfn.bodies()[0];
    const rollback = eventOf('delete', String(failedCreate?.PhysicalResourceId));
    rollback.ResourceProperties = create.ResourceProperties;

    // Act
    await handler(rollback, lambdaContext());

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
    try {
      const handler: typeof import('../../functions/custom-resource').handler = loadWithEnv(
        () => require('../../functions/custom-resource').handler,
        { STAGE: '', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: moto.endpoint },
      );
      const event = eventOf('create');

      // Act
      await handler(event, lambdaContext());
      await handler(eventOf('delete', String(cfn.bodies()[0]?.PhysicalResourceId)), lambdaContext());
    } finally {
      spy.mockRestore();
      restoreEnv();
    }

    // Assess
    expect(cfn.bodies()[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.bodies()[0]?.Reason)).toContain('STAGE is required');
    expect(cfn.bodies()[1]).toMatchObject({ Status: 'SUCCESS' });
    expect(ownedRoles(await readAllRoles(admin()))).toEqual({});
  });
});
