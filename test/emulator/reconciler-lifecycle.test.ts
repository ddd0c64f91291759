import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  paginateListRoles,
  type Role,
} from '@aws-sdk/client-iam';
import type { AwsClients } from '../../lib/aws/clients';
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, teardown } from '../../lib/reconciler/index';
import type { ReconcilerConfig } from '../../lib/reconciler/types';
import { mapWithConcurrency } from '../../lib/util/concurrency';
import {
  createBoundaryPolicy,
  createCluster,
  createForeignRole,
  deleteCluster,
  emulatorClients,
  readAllRoles,
} from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID, type MotoServer, startMotoServer } from '../support/moto-server';

const BOUNDARY = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-boundary`;
const ROLE_PATH = '/irsa-reconciler/qa/';

function config(overrides: Record<string, unknown> = {}): ReconcilerConfig {
  return parseReconcilerConfig(
    {
      regions: ['eu-west-1'],
      clusters: { include: ['*'] },
      permissionsBoundaryArn: BOUNDARY,
      bindings: [
        {
          name: 'otel-collector',
          namespace: 'observability',
          serviceAccount: 'otel-collector',
          policies: [{ template: 's3-prefix-access', params: { BucketName: 'telemetry', Prefix: 'otel' } }],
        },
      ],
      ...overrides,
    },
    { stage: 'qa', deploymentRegion: 'eu-west-1' },
  );
}

describe('the reconciler over a deployment lifecycle, against the emulator', () => {
  let moto: MotoServer;
  let admin: AwsClients;

  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'alpha');
    await createCluster(admin, 'eu-west-1', 'beta');
    await createBoundaryPolicy(admin, BOUNDARY);
  });

  it('refuses to prune a role someone attached a managed policy to, and still prunes the others', async () => {
    // Prepare
    const twoBindings = config({
      bindings: [
        ...config().bindings,
        { name: 'cost-agent', namespace: 'finops', serviceAccount: 'cost-agent', policies: [] },
      ],
    });
    await reconcile(deps(), twoBindings);
    const betaRoles = Object.values(await readAllRoles(admin, ROLE_PATH)).filter(
      (role) => role.tags['irsa-reconciler/cluster'] === 'beta',
    );
    const [tampered, other] = betaRoles;
    if (!tampered || !other) throw new Error('beta roles missing');
    const { Policy: policy } = await admin.iam.send(
      new CreatePolicyCommand({
        PolicyName: 'hand-made',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
        }),
      }),
    );
    await admin.iam.send(
      new AttachRolePolicyCommand({ RoleName: tampered.roleName, PolicyArn: policy?.Arn }),
    );
    await deleteCluster(admin, { region: 'eu-west-1', name: 'beta' });

    // Act
    const report = await reconcile(deps(), twoBindings);

    // Assess
    expect(report.failed).toBe(true);
    expect(report.counts).toMatchObject({ deleted: 1, failed: 1, unchanged: 2 });
    expect(report.drift).toEqual([{ roleName: tampered.roleName, policyArn: policy?.Arn, detach: false }]);
    const refused = report.results.find(({ outcome }) => outcome.status === 'failed');
    expect(refused?.action).toMatchObject({ kind: 'delete', roleName: tampered.roleName });
    expect(refused?.outcome).toMatchObject({
      retryable: false,
      error: expect.stringContaining(`${policy?.Arn}`),
    });
    const remaining = await readAllRoles(admin, ROLE_PATH);
    expect(remaining[tampered.roleName]).toEqual({ ...tampered, attachedPolicies: [policy?.Arn] });
    expect(remaining[other.roleName]).toBeUndefined();
  });

  function deps() {
    return { clients: emulatorClients(moto.endpoint), logger: silentLogger };
  }

  it('detaches a managed policy attached by hand when configured, and then prunes the role', async () => {
    // Prepare
    await reconcile(deps(), config());
    const beta = Object.values(await readAllRoles(admin, ROLE_PATH)).find(
      (role) => role.tags['irsa-reconciler/cluster'] === 'beta',
    );
    if (!beta) throw new Error('beta role missing');
    const { Policy: handMade } = await admin.iam.send(
      new CreatePolicyCommand({
        PolicyName: 'hand-made-admin',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    const adminArn = String(handMade?.Arn);
    await admin.iam.send(new AttachRolePolicyCommand({ RoleName: beta.roleName, PolicyArn: adminArn }));
    const detaching = config({ detachUnmanagedPolicies: true });

    // Act
    const repaired = await reconcile(deps(), detaching);
    await deleteCluster(admin, { region: 'eu-west-1', name: 'beta' });
    const pruned = await reconcile(deps(), detaching);

    // Assess
    expect(repaired.results.map(({ action, outcome }) => [action.kind, outcome.status])).toContainEqual([
      'detach-policy',
      'succeeded',
    ]);
    expect(repaired.drift).toEqual([{ roleName: beta.roleName, policyArn: adminArn, detach: true }]);
    expect(pruned.counts).toMatchObject({ deleted: 1, failed: 0 });
    expect((await readAllRoles(admin, ROLE_PATH))[beta.roleName]).toBeUndefined();
  });

  it('puts the permissions boundary on new roles, keeps it without writing, and restores it when removed', async () => {
    // Prepare
    const withBoundary = config({ permissionsBoundaryArn: BOUNDARY });
    await reconcile(deps(), withBoundary);
    const created = await readAllRoles(admin, ROLE_PATH);
    const [first] = Object.keys(created);
    if (!first) throw new Error('no role created');
    const steady = deps();
    await reconcile(steady, withBoundary);
    await admin.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: first }));
    const repair = deps();

    // Act
    const report = await reconcile(repair, withBoundary);

    // Assess
    expect(Object.values(created).map((role) => role.permissionsBoundaryArn)).toEqual([BOUNDARY, BOUNDARY]);
    expect(steady.clients.calls.writes()).toBe(0);
    expect(repair.clients.calls.snapshot()).toMatchObject({ 'IAM:PutRolePermissionsBoundary': 1 });
    expect(repair.clients.calls.writes()).toBe(1);
    expect(report.counts).toMatchObject({ updated: 1, unchanged: 1 });
    expect((await readAllRoles(admin, ROLE_PATH))[first]?.permissionsBoundaryArn).toBe(BOUNDARY);
  });

  it('reads the account in bulk: 1,002 roles under the path cost one read, and the unowned ones are left alone', async () => {
    // Prepare: 1,000 unowned roles beside the 2 owned ones under the path.
    const unowned = Array.from({ length: 1000 }, (_, index) => `unowned-${String(index).padStart(4, '0')}`);
    await mapWithConcurrency(unowned, 8, (roleName) =>
      admin.iam.send(
        new CreateRoleCommand({
          RoleName: roleName,
          Path: ROLE_PATH,
          AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
        }),
      ),
    );
    await reconcile(deps(), config());
    const before = await listRolesUnderPath(admin);
    const second = deps();

    // Act
    const report = await reconcile(second, config());

    // Assess
    expect(before).toHaveLength(1002);
    // Steady state: the lower bound (moto answers GetAccountAuthorizationDetails in one page).
    expect(second.clients.calls.snapshot()).toEqual({
      'EKS:DescribeCluster': 2,
      'EKS:ListClusters': 1,
      'IAM:GetAccountAuthorizationDetails': 1,
      'IAM:ListOpenIDConnectProviders': 1,
      'STS:GetCallerIdentity': 1,
    });
    expect(second.clients.calls.writes()).toBe(0);
    expect(report.counts).toMatchObject({ unchanged: 2, created: 0 });
    // No write call (above) is the strong check; the listing shows no role changed or went missing.
    expect(await listRolesUnderPath(admin)).toEqual(before);
  }, 120_000);

  it('tears down every role the stage owns and nothing else, and a second teardown has nothing to do', async () => {
    // Prepare
    await reconcile(deps(), config());
    await createForeignRole(admin, { name: 'irsa-kept', path: ROLE_PATH });
    const otherStage = parseReconcilerConfig(
      {
        regions: ['eu-west-1'],
        clusters: { include: ['*'] },
        permissionsBoundaryArn: BOUNDARY,
        bindings: config().bindings,
      },
      { stage: 'prod', deploymentRegion: 'eu-west-1' },
    );
    await reconcile(deps(), otherStage);
    const prodRoles = await readAllRoles(admin, '/irsa-reconciler/prod/');
    const again = deps();

    // Act
    const report = await teardown(deps(), config());
    const second = await teardown(again, config());

    // Assess
    expect(report.failed).toBe(false);
    expect(report.counts).toMatchObject({ deleted: 2, failed: 0 });
    expect(Object.keys(await readAllRoles(admin, ROLE_PATH))).toEqual(['irsa-kept']);
    expect(await readAllRoles(admin, '/irsa-reconciler/prod/')).toEqual(prodRoles);
    expect(Object.keys(prodRoles)).toHaveLength(2);
    expect(second.results).toEqual([]);
    expect(again.clients.calls.writes()).toBe(0);
  });
});

/** Every role under the path as ListRoles shows it (one cheap listing, not four reads per role). */
async function listRolesUnderPath(admin: AwsClients): Promise<Role[]> {
  const roles: Role[] = [];
  for await (const page of paginateListRoles(
    { client: admin.iam, pageSize: 1000 },
    { PathPrefix: ROLE_PATH },
  )) {
    roles.push(...(page.Roles ?? []));
  }
  return roles.sort((a, b) => String(a.RoleName).localeCompare(String(b.RoleName)));
}
