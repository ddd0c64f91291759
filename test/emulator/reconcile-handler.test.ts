import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteHostedConfigurationVersionCommand } from '@aws-sdk/client-appconfig';
import { stageValues } from '../../config/stage-values';
import { createHandler } from '../../functions/reconcile';
import { ReconcileFailedError } from '../../lib/errors';
import { readDeployedConfig } from '../../lib/lambda/deployed-config';
import { dynamoLease } from '../../lib/lambda/lease';
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { TAG_CLUSTER, TAG_REGION, TAG_STAGE } from '../../lib/reconciler/ownership';
import {
  createBoundaryPolicy,
  createCluster,
  createRunLeaseTable,
  deployReconcilerConfig,
  emulatorClients,
  emulatorDynamo,
  holdLeaseElsewhere,
  RUN_LEASE_TABLE,
  readAllRoles,
} from '../support/emulator-fixtures';
import { type MotoServer, startMotoServer } from '../support/moto-server';
import { resolveTokens } from '../support/stack-template';
import {
  captureLogs,
  closedPort,
  lambdaContext,
  loadEvent,
  loadWithEnv,
  restoreEnv,
} from '../unit/lambda/support';

const RAW_CONFIG = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'config', 'deployed.json'), 'utf8'),
) as Record<string, unknown>;
const CONFIG = parseReconcilerConfig(RAW_CONFIG, { stage: 'uat', deploymentRegion: 'eu-west-1' });
const loadConfig = async () => CONFIG;

describe('the scheduled reconcile handler against the emulator', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    await createCluster(emulatorClients(moto.endpoint), 'eu-west-1', 'alpha');
    await createCluster(emulatorClients(moto.endpoint), 'us-east-1', 'gamma');
  });

  async function ownedClusters(): Promise<string[]> {
    const roles = await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/');
    return Object.values(roles)
      .filter((role) => role.tags[TAG_STAGE] === 'uat')
      .map((role) => `${role.tags[TAG_REGION]}/${role.tags[TAG_CLUSTER]}`)
      .sort();
  }

  it('reconciles every configured region and succeeds, then changes nothing on the next run', async () => {
    // Prepare
    const handler = createHandler({
      clients: emulatorClients(moto.endpoint),
      logger: silentLogger,
      loadConfig,
    });

    // Act
    const first = await handler(loadEvent('scheduled'), lambdaContext());
    const second = await handler(loadEvent('scheduled'), lambdaContext());

    // Assess
    expect(first.counts).toMatchObject({ created: 2, failed: 0 });
    expect(first.regions.map((region) => region.status)).toEqual(['complete', 'complete']);
    expect(second.counts).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    expect(await ownedClusters()).toEqual(['eu-west-1/alpha', 'us-east-1/gamma']);
  });

  it('applies what it can and then fails the invocation when a region is unreachable', async () => {
    // Prepare
    const clients = emulatorClients(moto.endpoint, {
      eksEndpoints: { 'us-east-1': `http://127.0.0.1:${await closedPort()}` },
      maxAttempts: 1,
    });
    const { logger, lines } = captureLogs();
    const handler = createHandler({ clients, logger, loadConfig });

    // Act
    const outcome = handler(loadEvent('scheduled'), lambdaContext());

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ReconcileFailedError);
    await expect(outcome).rejects.toThrow(/region us-east-1 unknown/);
    expect(await ownedClusters()).toEqual(['eu-west-1/alpha']);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'reconcile invocation failed',
        classification: 'retryable',
      }),
    );
  });

  it('makes no write on a manual dry run, and answers with the planned changes', async () => {
    const clients = emulatorClients(moto.endpoint);
    const handler = createHandler({ clients, logger: silentLogger, loadConfig });

    const summary = await handler({ dryRun: true }, lambdaContext());

    expect(summary.dryRun).toBe(true);
    expect(clients.calls.writes()).toBe(0);
    expect(await ownedClusters()).toEqual([]);
    expect(
      summary.changes?.filter((change) => change.action === 'create').map((change) => change.detail),
    ).toEqual(['eu-west-1/alpha reports', 'us-east-1/gamma reports']);
    expect(summary.changes?.every((change) => change.outcome === 'planned')).toBe(true);
    expect(summary.changesNotShown).toBeUndefined();
  });
});

describe('the reconcile handler built from the Lambda environment', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
    await createCluster(emulatorClients(moto.endpoint), 'eu-west-1', 'alpha');
    await createBoundaryPolicy(emulatorClients(moto.endpoint), String(RAW_CONFIG.permissionsBoundaryArn));
    await createRunLeaseTable(moto.endpoint);
  });
  afterAll(async () => {
    await moto.stop();
  });
  afterEach(() => {
    restoreEnv();
  });

  it('reads the configuration the deployment wrote to AppConfig, once per container, and reconciles', async () => {
    // Prepare: the run's metrics documents go to stdout, as in Lambda
    const env = await environmentOf({ ...RAW_CONFIG, regions: ['eu-west-1'] }, 'env-test');
    const handler = loadHandler(env);
    const emf: string[] = [];
    const stdout = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((line) => emf.push(String(line)) > 0);

    // Act: the version is gone after the first run; a container that read it once does not need it again
    const first = await handler(loadEvent('scheduled'), lambdaContext());
    await emulatorClients(moto.endpoint).appconfig.send(
      new DeleteHostedConfigurationVersionCommand({
        ApplicationId: env.CONFIG_APPLICATION_ID,
        ConfigurationProfileId: env.CONFIG_PROFILE_ID,
        VersionNumber: Number(env.CONFIG_VERSION),
      }),
    );
    const second = await handler(loadEvent('scheduled'), lambdaContext());

    stdout.mockRestore();

    // Assess
    expect(first.counts.created).toBe(1);
    expect(second.counts).toMatchObject({ created: 0, unchanged: 1 });
    expect(emf.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ Stage: 'uat', Created: 1, RunFailed: 0 }),
      expect.objectContaining({ Stage: 'uat', Created: 0, Unchanged: 1, RunFailed: 0 }),
    ]);
  });

  it('fails every invocation with an error naming the field when the deployed configuration is invalid', async () => {
    // Prepare
    // Powertools writes ERROR lines to stderr, the others to stdout; Lambda sends both to CloudWatch
    const writes: string[] = [];
    const capture = (line: unknown) => {
      writes.push(String(line));
      return true;
    };
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const handler = loadHandler(await environmentOf({ ...RAW_CONFIG, bindings: 3 }, 'env-invalid'));

      // Act
      const outcome = handler(loadEvent('scheduled'), lambdaContext());

      // Assess
      await expect(outcome).rejects.toMatchObject({ name: 'ConfigError' });
      await expect(outcome).rejects.toThrow(/^Invalid reconciler configuration in AppConfig .*: bindings: /);
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    expect(writes.join('')).toContain('reconcile invocation failed');
  });

  it('fails every invocation naming the variable when the environment is invalid', async () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const handler = loadHandler({ STAGE: 'uat', AWS_REGION: 'eu-west-1' });

      const outcome = handler(loadEvent('scheduled'), lambdaContext());

      await expect(outcome).rejects.toThrow(
        /^Invalid Lambda environment: .*CONFIG_APPLICATION_ID is required/,
      );
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
  });

  it('waits for the run lease while another run holds it, and fails retryable, writing nothing, if it is not freed', async () => {
    // Prepare: a cluster without its role yet; another run holds the lease; this invocation has 6 s
    // left (it waits a third of that)
    await createCluster(emulatorClients(moto.endpoint), 'eu-west-1', 'lease-beta');
    const env = await environmentOf({ ...RAW_CONFIG, regions: ['eu-west-1'] }, 'env-lease');
    const handler = loadHandler(env);
    const dynamo = emulatorDynamo(moto.endpoint);
    const otherRun = await holdLeaseElsewhere(
      dynamoLease(dynamo, { table: RUN_LEASE_TABLE }),
      'custom-resource 1234',
    );
    const before = await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/');
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      // Act
      const refused = handler(loadEvent('scheduled'), lambdaContext(6_000));

      // Assess
      await expect(refused).rejects.toMatchObject({ name: 'LeaseBusyError', retryable: true });
      await expect(refused).rejects.toThrow(/held by custom-resource 1234/);
      expect(await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/')).toEqual(before);
      await otherRun.release();
      const after = await handler(loadEvent('scheduled'), lambdaContext(6_000));
      expect(after.counts).toMatchObject({ created: 1, failed: 0 });
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
      dynamo.destroy();
    }
  });

  const loadHandler = (env: Record<string, string>): typeof import('../../functions/reconcile').handler =>
    loadWithEnv(() => require('../../functions/reconcile').handler, env);

  async function environmentOf(raw: unknown, application: string): Promise<Record<string, string>> {
    const location = await deployReconcilerConfig(emulatorClients(moto.endpoint), raw, { application });
    return {
      STAGE: 'uat',
      AWS_REGION: 'eu-west-1',
      CONFIG_APPLICATION_ID: location.applicationId,
      CONFIG_PROFILE_ID: location.profileId,
      CONFIG_VERSION: location.version,
      AWS_ENDPOINT_URL: moto.endpoint,
      LOG_LEVEL: 'ERROR',
      RUN_LEASE_TABLE,
    };
  }
});

/** The stack token a stage file uses for the data bucket (resolved by CloudFormation). */
const DATA_BUCKET_TOKEN = ['$', '{DataBucket}'].join('');

describe('a deployment of 50 bindings', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });

  it('packages (boundary and configuration within their limits), deploys and reconciles, then rests', async () => {
    // Prepare: the stage file a user would write, through the package-time derivation
    const bindings = Array.from({ length: 50 }, (_, index) => ({
      name: `agent-${index}`,
      namespace: `team-${index % 7}`,
      serviceAccount: `agent-${index}`,
      policies: [
        {
          template: 's3-prefix-access',
          params: { BucketName: DATA_BUCKET_TOKEN, Prefix: `agents/agent-${index}` },
        },
        { template: 'secretsmanager-read', params: { SecretNamePrefixes: [`agents/agent-${index}/`] } },
      ],
    }));
    const values = stageValues(
      {
        region: 'eu-west-1',
        chartPrefix: 'charts/',
        createAppConfig: false,
        createDataBucketUser: false,
        reconciler: { regions: ['eu-west-1'], clusters: { include: ['fleet-*'] }, bindings },
      },
      'uat',
    );
    const admin = emulatorClients(moto.endpoint);
    await createBoundaryPolicy(admin, resolveTokens({ Ref: 'WorkloadBoundary' }));
    const location = await deployReconcilerConfig(admin, JSON.parse(resolveTokens(values.json)));
    await createCluster(admin, 'eu-west-1', 'fleet-a');
    await createCluster(admin, 'eu-west-1', 'fleet-b');
    const clients = emulatorClients(moto.endpoint);
    const handler = createHandler({
      clients,
      logger: silentLogger,
      loadConfig: () => readDeployedConfig(clients, location, { stage: 'uat', region: 'eu-west-1' }),
    });

    // Act
    const first = await handler(loadEvent('scheduled'), lambdaContext());
    const second = await handler(loadEvent('scheduled'), lambdaContext());

    // Assess
    expect(Object.keys(values.boundaryResources)).toEqual(['WorkloadBoundary']);
    expect(first.counts).toMatchObject({ created: 100, failed: 0 });
    expect(second.counts).toMatchObject({ created: 0, updated: 0, unchanged: 100 });
    expect(clients.calls.writes()).toBe(0);
    const roles = Object.values(await readAllRoles(admin, '/irsa-reconciler/uat/'));
    expect(roles).toHaveLength(100);
    expect(new Set(roles.map((role) => role.permissionsBoundaryArn))).toEqual(
      new Set([resolveTokens({ Ref: 'WorkloadBoundary' })]),
    );
  }, 120_000);
});
