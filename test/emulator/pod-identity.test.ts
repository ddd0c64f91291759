/**
 * Pod Identity mode end to end: the reconciler with the real AWS SDK against moto (EKS clusters, IAM)
 * and the Pod Identity fake in front of it (associations and add-ons, which moto lacks).
 */
import {
  CreatePodIdentityAssociationCommand,
  EKSClient,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, teardown } from '../../lib/reconciler/index';
import type { ReconcileReport, ReconcilerConfig } from '../../lib/reconciler/types';
import {
  createBoundaryPolicy,
  createCluster,
  deleteCluster,
  emulatorClients,
  readAllRoles,
  useEmulator,
} from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS } from '../support/moto-server';
import { type PodIdentityFront, startPodIdentityFront } from '../support/pod-identity-front';

const BOUNDARY = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-boundary`;
const ROLE_PATH = '/irsa-reconciler/qa/';
const EU = 'eu-west-1';
const US = 'us-east-1';
const CLUSTERS = [
  [EU, 'alpha'],
  [EU, 'beta'],
  [US, 'gamma'],
] as const;
const OTEL = {
  name: 'otel-collector',
  namespace: 'observability',
  serviceAccount: 'otel-collector',
  policies: [{ template: 's3-prefix-access', params: { BucketName: 'telemetry', Prefix: 'otel' } }],
};

function config(overrides: Record<string, unknown> = {}): ReconcilerConfig {
  return parseReconcilerConfig(
    {
      regions: [EU, US],
      clusters: { include: ['*'] },
      permissionsBoundaryArn: BOUNDARY,
      createOidcProvider: true,
      bindings: [OTEL],
      ...overrides,
    },
    { stage: 'qa', deploymentRegion: EU },
  );
}

const podConfig = (overrides: Record<string, unknown> = {}) =>
  config({ bindings: [{ ...OTEL, mode: 'pod-identity' }], ...overrides });

const WRITE = /^(IAM|EKS|SSM):(Create|Update|Delete|Put|Tag|Untag|Attach|Detach|AddTags)/;

function writes(report: ReconcileReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report.apiCalls).filter(([operation]) => WRITE.test(operation)));
}

describe('EKS Pod Identity mode against the emulator and the Pod Identity fake', () => {
  let front: PodIdentityFront;
  const emulator = useEmulator(async (admin, moto) => {
    for (const [region, name] of CLUSTERS)
      await createCluster(admin, region, name, { withOidcProvider: false });
    await createBoundaryPolicy(admin, BOUNDARY);
    front = await startPodIdentityFront(moto.endpoint, {
      addons: CLUSTERS.map(([region, name]) => `${region}/${name}/eks-pod-identity-agent`),
    });
  });
  afterEach(async () => {
    await front.stop();
  });

  function deps() {
    return {
      clients: emulatorClients(emulator.moto.endpoint, {
        eksEndpoints: { [EU]: front.endpoint, [US]: front.endpoint },
      }),
      logger: silentLogger,
    };
  }

  function eks(region: string): EKSClient {
    return new EKSClient({
      region,
      endpoint: front.endpoint,
      credentials: EMULATOR_CREDENTIALS,
      maxAttempts: 1,
    });
  }

  async function roles() {
    return Object.values(await readAllRoles(emulator.admin, ROLE_PATH));
  }

  it('moves a fleet in two regions from irsa to pod-identity over successive runs, then writes nothing', async () => {
    // Run 1: IRSA, one role per cluster
    const first = await reconcile(deps(), config());
    expect(first.failed).toBe(false);
    expect((await roles()).map((role) => role.tags['irsa-reconciler/cluster']).sort()).toEqual([
      'alpha',
      'beta',
      'gamma',
    ]);

    // Run 2: the binding moves: its role and the associations first, the IRSA roles kept
    const second = await reconcile(deps(), podConfig());
    expect(second.failed).toBe(false);
    expect(second.counts).toMatchObject({ created: 4, deleted: 0 });
    const afterSecond = await roles();
    const podRole = afterSecond.find((role) => role.tags['irsa-reconciler/mode'] === 'pod-identity');
    expect(podRole?.roleName).toMatch(/^irsa-pi-otel-collector-[0-9a-f]{10}$/);
    expect(afterSecond).toHaveLength(4);
    const associations = front.associations();
    expect(
      associations.map((item) => [item.region, item.clusterName, item.namespace, item.serviceAccount]).sort(),
    ).toEqual([
      [EU, 'alpha', 'observability', 'otel-collector'],
      [EU, 'beta', 'observability', 'otel-collector'],
      [US, 'gamma', 'observability', 'otel-collector'],
    ]);
    expect(associations.every((item) => item.roleArn === podRole?.arn)).toBe(true);
    expect(associations[0]?.tags).toMatchObject({
      'irsa-reconciler/managed-by': 'irsa-reconciler',
      'irsa-reconciler/stage': 'qa',
      'irsa-reconciler/binding': 'otel-collector',
    });
    expect(podRole?.trustPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'PodIdentityServiceAccountOnly',
          Effect: 'Allow',
          Principal: { Service: 'pods.eks.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: {
            StringEquals: {
              'aws:SourceAccount': EMULATOR_ACCOUNT_ID,
              'aws:RequestTag/kubernetes-namespace': 'observability',
              'aws:RequestTag/kubernetes-service-account': 'otel-collector',
              'aws:RequestTag/eks-cluster-arn': CLUSTERS.map(
                ([region, name]) => `arn:aws:eks:${region}:${EMULATOR_ACCOUNT_ID}:cluster/${name}`,
              ).sort(),
            },
          },
        },
      ],
    });

    // Run 3: the associations were seen: the IRSA roles go
    const third = await reconcile(deps(), podConfig());
    expect(third.failed).toBe(false);
    expect(third.counts.deleted).toBe(3);
    expect((await roles()).map((role) => role.roleName)).toEqual([podRole?.roleName]);

    // Run 4: nothing to do
    const fourth = await reconcile(deps(), podConfig());
    expect(fourth.failed).toBe(false);
    expect(writes(fourth)).toEqual({});
    expect(fourth.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 4 });
  });

  it('makes no association on a cluster without the agent add-on, unless asked to install it', async () => {
    // Prepare: a cluster the agent is not on
    await createCluster(emulator.admin, US, 'bare', { withOidcProvider: false });

    // Act
    const skipped = await reconcile(deps(), podConfig());
    const installed = await reconcile(deps(), podConfig({ podIdentity: { installAgent: true } }));

    // Assess
    expect(skipped.skipped).toContainEqual(
      expect.objectContaining({ clusterName: 'bare', reason: expect.stringContaining('not installed') }),
    );
    expect(installed.failed).toBe(false);
    expect(front.addons().find((addon) => addon.clusterName === 'bare')).toMatchObject({
      addonName: 'eks-pod-identity-agent',
    });
    expect(front.associations().map((item) => item.clusterName)).toContain('bare');
  });

  it('leaves a deleted cluster behind without a failure, and keeps the role the others use', async () => {
    // Prepare
    await reconcile(deps(), podConfig());
    await deleteCluster(emulator.admin, { region: EU, name: 'beta' });

    // Act
    const report = await reconcile(deps(), podConfig());

    // Assess
    expect(report.failed).toBe(false);
    expect(report.counts).toMatchObject({ deleted: 0, failed: 0 });
    const client = eks(EU);
    await expect(
      client.send(new ListPodIdentityAssociationsCommand({ clusterName: 'beta' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    client.destroy();
    expect(
      (await roles()).filter((role) => role.tags['irsa-reconciler/mode'] === 'pod-identity'),
    ).toHaveLength(1);
  });

  it("removes a binding's associations first, and its role only in the run after, once none uses it", async () => {
    // Prepare
    await reconcile(deps(), podConfig());
    const removed = podConfig({ bindings: [], maxPruneFraction: 1 });

    // Act
    const first = await reconcile(deps(), removed);
    const rolesAfterFirst = await roles();
    const second = await reconcile(deps(), removed);

    // Assess
    expect(first.counts).toMatchObject({ deleted: 3, failed: 0 });
    expect(front.associations()).toEqual([]);
    expect(rolesAfterFirst).toHaveLength(1);
    expect(second.counts).toMatchObject({ deleted: 1, failed: 0 });
    expect(await roles()).toEqual([]);
  });

  it('with verifyEveryRuns 3 describes each association once in three windows, repairs drift within them, and describes all when a role may go', async () => {
    // Prepare: the fleet's associations made; then one repointed by hand to another role of ours
    const sampled = podConfig({ podIdentity: { verifyEveryRuns: 3 } });
    await reconcile(deps(), sampled);
    const { Role: other } = await emulator.admin.iam.send(
      new CreateRoleCommand({
        RoleName: 'not-the-binding-role',
        AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
      }),
    );
    const alpha = front.associations().find((item) => item.clusterName === 'alpha');
    const client = eks(EU);
    await client.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'alpha',
        associationId: alpha?.associationId ?? '',
        roleArn: other?.Arn ?? '',
      }),
    );
    client.destroy();
    const windowStart = Date.UTC(2026, 11, 2, 0, 0, 0);

    // Act: one run in each of three consecutive two-hour windows
    const runs: { describes: number; updates: number }[] = [];
    for (let window = 0; window < 3; window++) {
      const before = { ...front.calls };
      const report = await reconcile(
        { ...deps(), now: () => new Date(windowStart + window * 2 * 60 * 60_000) },
        sampled,
      );
      expect(report.failed).toBe(false);
      runs.push({
        describes:
          (front.calls.DescribePodIdentityAssociation ?? 0) - (before.DescribePodIdentityAssociation ?? 0),
        updates: (front.calls.UpdatePodIdentityAssociation ?? 0) - (before.UpdatePodIdentityAssociation ?? 0),
      });
    }
    const repaired = front.associations().find((item) => item.clusterName === 'alpha')?.roleArn;
    const podRoleArn = (await roles()).find(
      (role) => role.tags['irsa-reconciler/mode'] === 'pod-identity',
    )?.arn;
    // A new role name for the binding: the old role may go once unused, so every association is read
    const before = { ...front.calls };
    const renamed = await reconcile(
      { ...deps(), now: () => new Date(windowStart) },
      podConfig({ podIdentity: { verifyEveryRuns: 3 }, roleNamePrefix: 'irsa2-', maxPruneFraction: 1 }),
    );

    // Assess: 3 associations, each described in exactly one window (and again before its repair, as
    // every write re-reads); the repointed one repaired there
    expect(runs.map((run) => run.describes).reduce((sum, count) => sum + count, 0)).toBe(3 + 1);
    expect(runs.map((run) => run.updates).reduce((sum, count) => sum + count, 0)).toBe(1);
    expect(repaired).toBe(podRoleArn);
    expect(
      (front.calls.DescribePodIdentityAssociation ?? 0) - (before.DescribePodIdentityAssociation ?? 0),
    ).toBe(3 + 3);
    expect((front.calls.UpdatePodIdentityAssociation ?? 0) - (before.UpdatePodIdentityAssociation ?? 0)).toBe(
      3,
    );
    expect(renamed.counts.failed).toBe(0);
  });

  it("never touches associations it does not own, at the binding's ServiceAccount or elsewhere; teardown leaves them", async () => {
    // Prepare: someone else's role and two associations on alpha
    const { Role: theirs } = await emulator.admin.iam.send(
      new CreateRoleCommand({
        RoleName: 'their-pod-role',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    const client = eks(EU);
    for (const serviceAccount of ['otel-collector', 'their-agent']) {
      await client.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'alpha',
          namespace: 'observability',
          serviceAccount,
          roleArn: theirs?.Arn ?? '',
          tags: { team: 'someone-else' },
        }),
      );
    }
    client.destroy();
    const foreign = front.associations();

    // Act
    const report = await reconcile(deps(), podConfig());
    const removed = await teardown(deps(), podConfig());

    // Assess
    expect(report.skipped).toContainEqual(
      expect.objectContaining({
        clusterName: 'alpha',
        reason: expect.stringContaining('not owned by this deployment'),
      }),
    );
    expect(report.failed).toBe(false);
    expect(removed.failed).toBe(false);
    expect(front.associations()).toEqual(foreign);
    expect(await roles()).toEqual([]);
  });

  it("publishes each IRSA role's ARN in its cluster's region, and removes it with the role", async () => {
    // Prepare
    const publishing = { publishRoleArns: true, maxPruneFraction: 1 };
    const published = async () => {
      const found: Record<string, string> = {};
      for (const region of [EU, US]) {
        const { Parameters } = await emulator.admin
          .ssm(region)
          .send(new GetParametersByPathCommand({ Path: '/irsa-reconciler/qa/roles/', Recursive: true }));
        for (const parameter of Parameters ?? [])
          found[`${region} ${parameter.Name}`] = parameter.Value ?? '';
      }
      return found;
    };

    // Act: IRSA with publishing; then the cluster gamma goes; then the binding moves to pod-identity
    await reconcile(deps(), config(publishing));
    const first = await published();
    const arns = Object.fromEntries(
      (await roles()).map((role) => [role.tags['irsa-reconciler/cluster'], role.arn]),
    );
    const rerun = await reconcile(deps(), config(publishing));
    await deleteCluster(emulator.admin, { region: US, name: 'gamma' });
    await reconcile(deps(), config(publishing));
    const afterDelete = await published();
    await reconcile(deps(), podConfig(publishing));
    await reconcile(deps(), podConfig(publishing));
    const afterMove = await published();

    // Assess
    expect(first).toEqual({
      [`${EU} /irsa-reconciler/qa/roles/alpha/otel-collector`]: arns.alpha,
      [`${EU} /irsa-reconciler/qa/roles/beta/otel-collector`]: arns.beta,
      [`${US} /irsa-reconciler/qa/roles/gamma/otel-collector`]: arns.gamma,
    });
    expect(writes(rerun)).toEqual({});
    expect(Object.keys(afterDelete).sort()).toEqual([
      `${EU} /irsa-reconciler/qa/roles/alpha/otel-collector`,
      `${EU} /irsa-reconciler/qa/roles/beta/otel-collector`,
    ]);
    expect(afterMove).toEqual({});
  });

  it('retries an association EKS refuses while IAM has not propagated the new role', async () => {
    // Prepare: EKS refuses a role for a second after it first hears of it
    await front.stop();
    front = await startPodIdentityFront(emulator.moto.endpoint, {
      addons: CLUSTERS.map(([region, name]) => `${region}/${name}/eks-pod-identity-agent`),
      roleVisibleAfterMs: 1_000,
    });

    // Act
    const report = await reconcile(deps(), podConfig());

    // Assess
    expect(report.failed).toBe(false);
    expect(front.associations()).toHaveLength(3);
    expect(front.calls.CreatePodIdentityAssociation).toBeGreaterThan(3);
  });
});
