import {
  DeleteRolePolicyCommand,
  ListOpenIDConnectProvidersCommand,
  PutRolePolicyCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '../../lib/aws/clients';
import { createLogger, silentLogger } from '../../lib/observability/logger';
import { roleNameFor } from '../../lib/reconciler/config/naming';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, teardown } from '../../lib/reconciler/index';
import {
  TAG_BINDING,
  TAG_CLUSTER,
  TAG_MANAGED_BY,
  TAG_REGION,
  TAG_STAGE,
} from '../../lib/reconciler/ownership';
import type { ReconcileReport, ReconcilerConfig } from '../../lib/reconciler/types';
import {
  createCluster,
  createForeignRole,
  deleteCluster,
  type EmulatorCluster,
  emulatorClients,
  type RoleState,
  readAllRoles,
  SAMPLE_RECONCILER_CONFIG,
} from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID, type MotoServer, startMotoServer } from '../support/moto-server';

const ROLE_PATH = '/irsa-reconciler/dev/';

function config(overrides: Record<string, unknown> = {}): ReconcilerConfig {
  return parseReconcilerConfig(
    { ...SAMPLE_RECONCILER_CONFIG, ...overrides },
    { stage: 'dev', deploymentRegion: 'eu-west-1' },
  );
}

/** Roles owned by the `dev` stage, keyed `<region>/<cluster>/<binding>` from their tags. */
function ownedByTarget(roles: Record<string, RoleState>): Record<string, RoleState> {
  return Object.fromEntries(
    Object.values(roles)
      .filter(
        (role) => role.path === ROLE_PATH && role.tags[TAG_MANAGED_BY] && role.tags[TAG_STAGE] === 'dev',
      )
      .map((role) => [`${role.tags[TAG_REGION]}/${role.tags[TAG_CLUSTER]}/${role.tags[TAG_BINDING]}`, role]),
  );
}

function outcomes(report: ReconcileReport): string[] {
  return report.results.map(({ action, outcome }) => {
    const target =
      action.kind === 'create' ? action.role.roleName : 'roleName' in action ? action.roleName : '';
    return `${action.kind} ${target} ${outcome.status}`;
  });
}

describe('reconcile against the emulator', () => {
  let moto: MotoServer;
  let admin: AwsClients;
  let clusters: { alpha: EmulatorCluster; beta: EmulatorCluster; gamma: EmulatorCluster };

  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    admin = emulatorClients(moto.endpoint);
    clusters = {
      alpha: await createCluster(admin, 'eu-west-1', 'alpha'),
      beta: await createCluster(admin, 'eu-west-1', 'beta'),
      gamma: await createCluster(admin, 'us-east-1', 'gamma'),
    };
  });

  /** The reconciler's own clients: a fresh call counter for every run. */
  function deps(overrides: Parameters<typeof emulatorClients>[1] = {}) {
    return { clients: emulatorClients(moto.endpoint, overrides), logger: silentLogger };
  }

  it('creates one role per cluster and binding across two regions, with exact trust and inline policies', async () => {
    // Act
    const report = await reconcile(deps(), config());

    // Assess
    expect(report.failed).toBe(false);
    expect(report.counts).toEqual({
      created: 6,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      skipped: 0,
      failed: 0,
    });
    expect(report.regions).toEqual([
      { region: 'eu-west-1', status: 'complete', clusters: 2 },
      { region: 'us-east-1', status: 'complete', clusters: 1 },
    ]);
    const owned = ownedByTarget(await readAllRoles(admin));
    expect(Object.keys(owned).sort()).toEqual([
      'eu-west-1/alpha/cost-agent',
      'eu-west-1/alpha/otel-collector',
      'eu-west-1/beta/cost-agent',
      'eu-west-1/beta/otel-collector',
      'us-east-1/gamma/cost-agent',
      'us-east-1/gamma/otel-collector',
    ]);

    const gammaOtel = owned['us-east-1/gamma/otel-collector'];
    const issuerHost = clusters.gamma.issuerUrl.replace('https://', '');
    expect(gammaOtel?.roleName.length).toBeLessThanOrEqual(64);
    expect(gammaOtel?.tags).toMatchObject({ team: 'platform', [TAG_STAGE]: 'dev' });
    expect(gammaOtel?.trustPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Federated: clusters.gamma.providerArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${issuerHost}:sub`]: 'system:serviceaccount:observability:otel-collector',
              [`${issuerHost}:aud`]: 'sts.amazonaws.com',
            },
          },
        }),
      ],
    });
    expect(Object.keys(gammaOtel?.inlinePolicies ?? {}).sort()).toEqual([
      's3-prefix-access',
      'secretsmanager-read',
    ]);
    expect(JSON.stringify(gammaOtel?.inlinePolicies['s3-prefix-access'])).toContain(
      'arn:aws:s3:::telemetry-archive/otel/us-east-1/gamma/*',
    );
    expect(JSON.stringify(gammaOtel?.inlinePolicies['secretsmanager-read'])).toContain(
      `arn:aws:secretsmanager:us-east-1:${EMULATOR_ACCOUNT_ID}:secret:otel/*`,
    );
    const alphaCost = owned['eu-west-1/alpha/cost-agent'];
    expect(Object.keys(alphaCost?.inlinePolicies ?? {}).sort()).toEqual([
      'appconfig-read',
      's3-prefix-access',
    ]);
    expect(JSON.stringify(alphaCost?.trustPolicy)).toContain('system:serviceaccount:finops:cost-agent');
    expect(JSON.stringify(alphaCost?.trustPolicy)).not.toContain('*');
  });

  it('skips a target whose role name a role on another path holds, naming it, with no write and no failure', async () => {
    // Prepare: someone made a role with the very name the reconciler wants, elsewhere
    const cfg = config();
    const wanted = roleNameFor(cfg.roleNamePrefix, 'eu-west-1', 'alpha', 'otel-collector', 'dev');
    await createForeignRole(admin, { name: wanted, path: '/ci/' });
    const run = deps();

    // Act
    const report = await reconcile(run, cfg);

    // Assess
    expect(report.failed).toBe(false);
    expect(report.skipped).toContainEqual({
      region: 'eu-west-1',
      clusterName: 'alpha',
      bindingName: 'otel-collector',
      reason: `role name taken by a role not owned by this deployment: /ci/${wanted}`,
    });
    expect(
      report.results.map(({ action }) => action.kind === 'create' && action.role.roleName),
    ).not.toContain(wanted);
    expect(run.clients.calls.snapshot()['IAM:CreateRole']).toBe(5);
    expect((await readAllRoles(admin, '/ci/'))[wanted]?.tags).toEqual({});
  });

  it('makes no write call and reports everything unchanged on a second run', async () => {
    // Prepare
    await reconcile(deps(), config());
    const before = await readAllRoles(admin);
    const second = deps();

    // Act
    const report = await reconcile(second, config());

    // Assess
    expect(second.clients.calls.writes()).toBe(0);
    expect(report.counts).toEqual({
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: 6,
      skipped: 0,
      failed: 0,
    });
    expect(report.results.every(({ action }) => action.kind === 'no-op')).toBe(true);
    expect(report.apiCalls).toEqual(second.clients.calls.snapshot());
    expect(await readAllRoles(admin)).toEqual(before);
  });

  it('reverts manual edits of owned roles with exactly one write each, then is steady again', async () => {
    // Prepare
    await reconcile(deps(), config());
    const desired = ownedByTarget(await readAllRoles(admin));
    const trustEdited = desired['eu-west-1/alpha/otel-collector'];
    const policyEdited = desired['eu-west-1/beta/cost-agent'];
    const policyDeleted = desired['us-east-1/gamma/otel-collector'];
    const untagged = desired['eu-west-1/alpha/cost-agent'];
    if (!trustEdited || !policyEdited || !policyDeleted || !untagged) throw new Error('roles missing');
    const wide = (principal: unknown) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRoleWithWebIdentity' }],
      });
    await admin.iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: trustEdited.roleName,
        PolicyDocument: wide({ Federated: clusters.alpha.providerArn }),
      }),
    );
    await admin.iam.send(
      new PutRolePolicyCommand({
        RoleName: policyEdited.roleName,
        PolicyName: 's3-prefix-access',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
        }),
      }),
    );
    await admin.iam.send(
      new PutRolePolicyCommand({
        RoleName: policyEdited.roleName,
        PolicyName: 'added-by-hand',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
        }),
      }),
    );
    await admin.iam.send(
      new DeleteRolePolicyCommand({ RoleName: policyDeleted.roleName, PolicyName: 'secretsmanager-read' }),
    );
    await admin.iam.send(
      new UntagRoleCommand({ RoleName: untagged.roleName, TagKeys: ['team', TAG_BINDING] }),
    );
    const repair = deps();

    // Act
    const report = await reconcile(repair, config());

    // Assess
    expect(repair.clients.calls.snapshot()).toMatchObject({
      'IAM:UpdateAssumeRolePolicy': 1,
      'IAM:PutRolePolicy': 2,
      'IAM:DeleteRolePolicy': 1,
      'IAM:TagRole': 1,
    });
    expect(repair.clients.calls.writes()).toBe(5);
    expect(report.counts).toMatchObject({ updated: 4, unchanged: 2, failed: 0 });
    expect(ownedByTarget(await readAllRoles(admin))).toEqual(desired);
    const steady = deps();
    await reconcile(steady, config());
    expect(steady.clients.calls.writes()).toBe(0);
  });

  it('deletes the roles of a deleted cluster, inline policies first, and nothing else', async () => {
    // Prepare
    await reconcile(deps(), config());
    await deleteCluster(admin, clusters.beta);

    // Act
    const report = await reconcile(deps(), config());

    // Assess
    expect(report.failed).toBe(false);
    expect(report.counts).toMatchObject({ deleted: 2, unchanged: 4 });
    expect(outcomes(report).filter((line) => line.startsWith('delete'))).toHaveLength(2);
    expect(Object.keys(ownedByTarget(await readAllRoles(admin))).sort()).toEqual([
      'eu-west-1/alpha/cost-agent',
      'eu-west-1/alpha/otel-collector',
      'us-east-1/gamma/cost-agent',
      'us-east-1/gamma/otel-collector',
    ]);
  });

  it('never changes roles it does not own: other paths, no owner tag, look-alike names, another stage', async () => {
    // Prepare
    await reconcile(deps(), config());
    const ownedNames = Object.values(ownedByTarget(await readAllRoles(admin))).map((role) => role.roleName);
    const lookAlike = `${ownedNames[0]}`.replace(/.$/, (last) => (last === 'a' ? 'b' : 'a'));
    await createForeignRole(admin, { name: 'irsa-beta-otel-collector', path: '/' });
    await createForeignRole(admin, {
      name: 'irsa-no-owner-tag',
      path: ROLE_PATH,
      tags: { team: 'platform' },
    });
    await createForeignRole(admin, {
      name: lookAlike,
      path: '/someone-else/',
      tags: { [TAG_MANAGED_BY]: 'irsa-reconciler', [TAG_STAGE]: 'dev' },
    });
    await createForeignRole(admin, {
      name: 'irsa-prod-beta-otel',
      path: '/irsa-reconciler/prod/',
      tags: {
        [TAG_MANAGED_BY]: 'irsa-reconciler',
        [TAG_STAGE]: 'prod',
        [TAG_REGION]: 'eu-west-1',
        [TAG_CLUSTER]: 'beta',
        [TAG_BINDING]: 'otel-collector',
      },
    });
    await createForeignRole(admin, {
      name: 'irsa-prod-tag-on-dev-path',
      path: ROLE_PATH,
      tags: { [TAG_MANAGED_BY]: 'irsa-reconciler', [TAG_STAGE]: 'prod', [TAG_CLUSTER]: 'beta' },
    });
    const foreignBefore = Object.fromEntries(
      Object.entries(await readAllRoles(admin)).filter(([name]) => !ownedNames.includes(name)),
    );
    expect(Object.keys(foreignBefore)).toHaveLength(5);
    await deleteCluster(admin, clusters.beta);

    // Act
    const withPrune = await reconcile(deps(), config());
    const gone = await teardown(deps(), config());

    // Assess
    expect(withPrune.counts.deleted).toBe(2);
    expect(gone.counts.deleted).toBe(4);
    expect(await readAllRoles(admin)).toEqual(foreignBefore);
  });

  it('prunes nothing in a region whose scan failed, while the other regions complete', async () => {
    // Prepare
    await reconcile(deps(), config());
    await deleteCluster(admin, clusters.beta);
    await deleteCluster(admin, clusters.gamma);
    const logLines: string[] = [];
    const broken = {
      ...deps({ eksEndpoints: { 'us-east-1': 'http://127.0.0.1:9' }, maxAttempts: 2 }),
      logger: createLogger({ write: (line) => logLines.push(line) }),
    };

    // Act
    const report = await reconcile(broken, config());

    // Assess
    expect(report.failed).toBe(true);
    expect(report.regions).toEqual([
      { region: 'eu-west-1', status: 'complete', clusters: 1 },
      { region: 'us-east-1', status: 'unknown', clusters: 0, error: expect.stringContaining('ListClusters') },
    ]);
    expect(report.counts).toMatchObject({ deleted: 2, failed: 0 });
    expect(broken.clients.calls.snapshot()).toMatchObject({ 'IAM:DeleteRole': 2 });
    const summary = JSON.parse(logLines.at(-1) ?? '{}');
    expect(summary).toMatchObject({
      level: 'ERROR',
      message: 'reconcile finished with failures',
      regions: [
        { region: 'eu-west-1', status: 'complete' },
        { region: 'us-east-1', status: 'unknown' },
      ],
      changes: [
        { action: 'delete', outcome: 'succeeded' },
        { action: 'delete', outcome: 'succeeded' },
      ],
    });
    expect(Object.keys(ownedByTarget(await readAllRoles(admin))).sort()).toEqual([
      'eu-west-1/alpha/cost-agent',
      'eu-west-1/alpha/otel-collector',
      'us-east-1/gamma/cost-agent',
      'us-east-1/gamma/otel-collector',
    ]);
  });

  it('plans without writing anything in dry run', async () => {
    // Prepare
    const dry = deps();

    // Act
    const report = await reconcile(dry, config({ dryRun: true }));

    // Assess
    expect(dry.clients.calls.writes()).toBe(0);
    expect(report.dryRun).toBe(true);
    expect(report.counts.created).toBe(6);
    expect(report.results.every(({ outcome }) => outcome.status === 'planned')).toBe(true);
    expect(ownedByTarget(await readAllRoles(admin))).toEqual({});
  });

  it('holds back a mass prune with the deletion guard unless forced', async () => {
    // Prepare
    await reconcile(deps(), config());
    await deleteCluster(admin, clusters.alpha);
    await deleteCluster(admin, clusters.beta);
    const guarded = deps();

    // Act
    const blocked = await reconcile(guarded, config());
    const forced = await reconcile(deps(), config({ forcePrune: true }));

    // Assess
    expect(blocked.pruneBlocked).toEqual({ wouldDelete: 4, owned: 6, maxPruneFraction: 0.5 });
    expect(guarded.clients.calls.writes()).toBe(0);
    expect(forced.counts.deleted).toBe(4);
    expect(Object.keys(ownedByTarget(await readAllRoles(admin))).sort()).toEqual([
      'us-east-1/gamma/cost-agent',
      'us-east-1/gamma/otel-collector',
    ]);
  });

  it('skips a cluster without an OIDC provider, or creates the provider when asked to', async () => {
    // Prepare: delta is alone in ap-southeast-2, where no provider exists yet.
    const delta = await createCluster(admin, 'ap-southeast-2', 'delta', { withOidcProvider: false });
    const regions = ['eu-west-1', 'us-east-1', 'ap-southeast-2'];

    // Act
    const without = await reconcile(deps(), config({ regions }));
    const withCreation = await reconcile(deps(), config({ regions, createOidcProvider: true }));
    const steady = deps();
    await reconcile(steady, config({ regions, createOidcProvider: true }));

    // Assess
    expect(without.skipped).toEqual([
      {
        region: 'ap-southeast-2',
        clusterName: 'delta',
        reason: expect.stringContaining('no IAM OIDC provider'),
      },
    ]);
    expect(without.counts).toMatchObject({ created: 6, skipped: 1 });
    expect(outcomes(withCreation).filter((line) => line.startsWith('create'))).toHaveLength(3);
    expect(withCreation.counts).toMatchObject({ created: 3, unchanged: 6, failed: 0 });
    const { OpenIDConnectProviderList = [] } = await admin.iam.send(
      new ListOpenIDConnectProvidersCommand({}),
    );
    expect(OpenIDConnectProviderList.map((provider) => provider.Arn)).toContain(delta.providerArn);
    expect(Object.keys(ownedByTarget(await readAllRoles(admin)))).toContain(
      'ap-southeast-2/delta/otel-collector',
    );
    expect(steady.clients.calls.writes()).toBe(0);
  });
});
