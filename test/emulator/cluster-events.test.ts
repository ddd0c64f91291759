/**
 * The single-cluster reconcile an EKS CreateCluster or DeleteCluster event runs (issue 13's core),
 * against the emulator: the same plan and apply as the full run, on one cluster's calls only.
 */
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import type { SQSRecord } from 'aws-lambda';
import { createHandler as createClusterEventsHandler } from '../../functions/cluster-events';
import { dynamoLease, type RunLease } from '../../lib/lambda/lease';
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, reconcileCluster } from '../../lib/reconciler/index';
import type { ReconcileReport, ReconcilerConfig } from '../../lib/reconciler/types';
import {
  createBoundaryPolicy,
  createCluster,
  createRunLeaseTable,
  deleteCluster,
  emulatorClients,
  emulatorDynamo,
  holdLeaseElsewhere,
  RUN_LEASE_TABLE,
  readAllRoles,
  useEmulator,
} from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID } from '../support/moto-server';
import { startPodIdentityFront } from '../support/pod-identity-front';
import { lambdaContext } from '../unit/lambda/support';

const BOUNDARY = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-boundary`;
const ROLE_PATH = '/irsa-reconciler/qa/';
const EU = 'eu-west-1';
const US = 'us-east-1';

/** Two bindings, irsa unless named in `podIdentityBindings`. */
function config(podIdentityBindings: string[] = []): ReconcilerConfig {
  return parseReconcilerConfig(rawConfig(podIdentityBindings), { stage: 'qa', deploymentRegion: EU });
}

function rawConfig(podIdentityBindings: string[] = []): Record<string, unknown> {
  return {
    regions: [EU, US],
    clusters: { include: ['*'], exclude: ['sandbox-*'] },
    permissionsBoundaryArn: BOUNDARY,
    createOidcProvider: true,
    bindings: [
      { name: 'otel', namespace: 'observability', serviceAccount: 'otel', policies: [] },
      { name: 'cost', namespace: 'finops', serviceAccount: 'cost', policies: [] },
    ].map((binding) =>
      podIdentityBindings.includes(binding.name) ? { ...binding, mode: 'pod-identity' } : binding,
    ),
  };
}

const WRITE = /^(IAM|EKS):(Create|Update|Delete|Put|Tag|Untag|Attach|Detach)/;

function writes(report: ReconcileReport): number {
  return Object.entries(report.apiCalls)
    .filter(([operation]) => WRITE.test(operation))
    .reduce((sum, [, count]) => sum + count, 0);
}

function calls(report: ReconcileReport): number {
  return Object.values(report.apiCalls).reduce((sum, count) => sum + count, 0);
}

const T0 = new Date('2026-12-02T08:00:00Z');

/** An EKS call as CloudTrail delivers it to EventBridge (moto emits none). */
function cloudTrail(eventName: 'CreateCluster' | 'DeleteCluster', region: string, name: string) {
  return JSON.stringify({
    source: 'aws.eks',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: {
      eventName,
      awsRegion: region,
      eventTime: T0.toISOString(),
      requestParameters: { name },
    },
  });
}

/** Reconciler dependencies on the block's emulator, and the roles of one cluster there. */
function helpers(emulator: ReturnType<typeof useEmulator>) {
  const deps = (overrides: { eksEndpoints?: Record<string, string> } = {}) => ({
    clients: emulatorClients(emulator.moto.endpoint, overrides),
    logger: silentLogger,
  });
  const rolesOf = async (cluster: string) =>
    Object.values(await readAllRoles(emulator.admin, ROLE_PATH)).filter(
      (role) => role.tags['irsa-reconciler/cluster'] === cluster,
    );
  return { deps, rolesOf };
}

describe('reconciling one cluster, as an event about it does', () => {
  const emulator = useEmulator((admin) => createBoundaryPolicy(admin, BOUNDARY));

  const { deps, rolesOf } = helpers(emulator);

  it('gives a created cluster its roles with no full run, and a rerun (a duplicate event) writes nothing', async () => {
    // Prepare: the fleet exists, reconciled; then a cluster is created
    await createCluster(emulator.admin, EU, 'alpha');
    await reconcile(deps(), config());
    await createCluster(emulator.admin, US, 'fresh', { withOidcProvider: false });

    // Act
    const first = await reconcileCluster(deps(), config(), { region: US, name: 'fresh' });
    const again = await reconcileCluster(deps(), config(), { region: US, name: 'fresh' });

    // Assess
    expect(first.failed).toBe(false);
    expect((await rolesOf('fresh')).map((role) => role.tags['irsa-reconciler/binding']).sort()).toEqual([
      'cost',
      'otel',
    ]);
    expect(writes(again)).toBe(0);
    expect(again.counts).toMatchObject({ unchanged: 2, created: 0 });
  });

  it("prunes a deleted cluster's roles, and only them", async () => {
    // Prepare
    await createCluster(emulator.admin, EU, 'alpha');
    await createCluster(emulator.admin, EU, 'doomed');
    await reconcile(deps(), config());
    await deleteCluster(emulator.admin, { region: EU, name: 'doomed' });

    // Act
    const report = await reconcileCluster(deps(), config(), { region: EU, name: 'doomed' });

    // Assess
    expect(report.failed).toBe(false);
    expect(report.counts.deleted).toBe(2);
    expect(await rolesOf('doomed')).toEqual([]);
    expect(await rolesOf('alpha')).toHaveLength(2);
  });

  it('changes nothing for a cluster that is not selected, or in a region it does not scan', async () => {
    // Prepare
    await createCluster(emulator.admin, EU, 'sandbox-1');
    await createCluster(emulator.admin, 'ap-southeast-2', 'elsewhere');

    // Act
    const excluded = await reconcileCluster(deps(), config(), { region: EU, name: 'sandbox-1' });
    const unscanned = await reconcileCluster(deps(), config(), {
      region: 'ap-southeast-2',
      name: 'elsewhere',
    });

    // Assess
    expect([writes(excluded), writes(unscanned)]).toEqual([0, 0]);
    expect(excluded.skipped).toContainEqual(expect.objectContaining({ clusterName: 'sandbox-1' }));
    expect(unscanned.skipped).toEqual([
      expect.objectContaining({ reason: 'region is not scanned by this deployment' }),
    ]);
    expect(await readAllRoles(emulator.admin, ROLE_PATH)).toEqual({});
  });

  it('prunes nothing when the cluster cannot be read', async () => {
    // Prepare: roles for alpha, then EKS of its region unreachable
    await createCluster(emulator.admin, EU, 'alpha');
    await reconcile(deps(), config());

    // Act
    const report = await reconcileCluster(deps({ eksEndpoints: { [EU]: 'http://127.0.0.1:9' } }), config(), {
      region: EU,
      name: 'alpha',
    });

    // Assess
    expect(report.failed).toBe(true);
    expect(report.regions).toEqual([expect.objectContaining({ region: EU, status: 'unknown' })]);
    expect(writes(report)).toBe(0);
    expect(await rolesOf('alpha')).toHaveLength(2);
  });

  it("publishes a created cluster's role ARNs and removes a deleted one's, leaving a cluster of a longer name alone", async () => {
    // Prepare: alpha and alpha-2 published by a full run; then alpha deleted and fresh created
    const publishing = parseReconcilerConfig(
      { ...rawConfig(), publishRoleArns: true },
      { stage: 'qa', deploymentRegion: EU },
    );
    await createCluster(emulator.admin, EU, 'alpha');
    await createCluster(emulator.admin, EU, 'alpha-2');
    await reconcile(deps(), publishing);
    await deleteCluster(emulator.admin, { region: EU, name: 'alpha' });
    await createCluster(emulator.admin, US, 'fresh');
    const published = async () => {
      const names: string[] = [];
      for (const region of [EU, US]) {
        const { Parameters } = await emulator.admin
          .ssm(region)
          .send(new GetParametersByPathCommand({ Path: '/irsa-reconciler/qa/roles/', Recursive: true }));
        names.push(...(Parameters ?? []).map((parameter) => `${region} ${parameter.Name}`));
      }
      return names.sort();
    };

    // Act
    const deleted = await reconcileCluster(deps(), publishing, { region: EU, name: 'alpha' });
    const created = await reconcileCluster(deps(), publishing, { region: US, name: 'fresh' });

    // Assess
    expect([deleted.failed, created.failed]).toEqual([false, false]);
    expect(await published()).toEqual([
      `${EU} /irsa-reconciler/qa/roles/alpha-2/cost`,
      `${EU} /irsa-reconciler/qa/roles/alpha-2/otel`,
      `${US} /irsa-reconciler/qa/roles/fresh/cost`,
      `${US} /irsa-reconciler/qa/roles/fresh/otel`,
    ]);
  });

  it('makes as many calls with 2 clusters in the fleet as with 12', async () => {
    // Prepare
    const measure = async (others: number) => {
      await emulator.moto.reset();
      const admin = emulatorClients(emulator.moto.endpoint);
      await createBoundaryPolicy(admin, BOUNDARY);
      for (let n = 0; n < others; n++) await createCluster(admin, n % 2 ? EU : US, `fleet-${n}`);
      await reconcile(deps(), config());
      await createCluster(admin, EU, 'target');
      const created = await reconcileCluster(deps(), config(), { region: EU, name: 'target' });
      const steady = await reconcileCluster(deps(), config(), { region: EU, name: 'target' });
      return [calls(created), calls(steady)];
    };

    // Act / Assess
    expect(await measure(12)).toEqual(await measure(2));
  });
});

describe('reconciling one cluster of a Pod Identity fleet, as an event about it does', () => {
  const FLEET = [
    [EU, 'alpha'],
    [EU, 'beta'],
  ] as const;
  let front: Awaited<ReturnType<typeof startPodIdentityFront>>;
  const emulator = useEmulator(async (admin, moto) => {
    for (const [region, name] of FLEET) await createCluster(admin, region, name, { withOidcProvider: false });
    await createBoundaryPolicy(admin, BOUNDARY);
    front = await startPodIdentityFront(moto.endpoint, {
      addons: [...FLEET, [US, 'fresh']].map(([region, name]) => `${region}/${name}/eks-pod-identity-agent`),
    });
  });
  afterEach(async () => {
    await front.stop();
  });
  const deps = () => ({
    clients: emulatorClients(emulator.moto.endpoint, {
      eksEndpoints: { [EU]: front.endpoint, [US]: front.endpoint },
    }),
    logger: silentLogger,
  });
  const podConfig = (podBindings = ['otel']) => config(podBindings);
  const { rolesOf } = helpers(emulator);
  const podRole = async (binding: string) => {
    const roles = Object.values(await readAllRoles(emulator.admin, ROLE_PATH));
    return roles.find(
      (role) =>
        role.tags['irsa-reconciler/mode'] === 'pod-identity' &&
        role.tags['irsa-reconciler/binding'] === binding,
    );
  };
  const pinnedArns = (trust: unknown) =>
    [
      (trust as { Statement: { Condition: { StringEquals: Record<string, unknown> } }[] }).Statement[0]
        ?.Condition.StringEquals['aws:RequestTag/eks-cluster-arn'],
    ]
      .flat()
      .map((arn) => String(arn).replace(/^.*:cluster\//, ''))
      .sort();

  it("gives a created cluster its association, widens the fleet role's cluster pin, and leaves the full run nothing to do", async () => {
    // Prepare: the fleet reconciled, then a cluster created
    await reconcile(deps(), podConfig());
    expect(pinnedArns((await podRole('otel'))?.trustPolicy)).toEqual(['alpha', 'beta']);
    await createCluster(emulator.admin, US, 'fresh');

    // Act
    const first = await reconcileCluster(deps(), podConfig(), { region: US, name: 'fresh' });
    const again = await reconcileCluster(deps(), podConfig(), { region: US, name: 'fresh' });
    const full = await reconcile(deps(), podConfig());

    // Assess
    expect(first.failed).toBe(false);
    const role = await podRole('otel');
    expect(pinnedArns(role?.trustPolicy)).toEqual(['alpha', 'beta', 'fresh']);
    expect(
      front
        .associations()
        .map((item) => [item.clusterName, item.serviceAccount, item.roleArn === role?.arn])
        .sort(),
    ).toEqual([
      ['alpha', 'otel', true],
      ['beta', 'otel', true],
      ['fresh', 'otel', true],
    ]);
    expect((await rolesOf('fresh')).map((item) => item.tags['irsa-reconciler/binding'])).toEqual(['cost']);
    expect([writes(again), writes(full)]).toEqual([0, 0]);
  });

  it('through the queue consumer: a CreateCluster call gives the new cluster its association, with no scheduled run', async () => {
    // Prepare
    await reconcile(deps(), podConfig());
    await createCluster(emulator.admin, US, 'fresh');
    const handler = createClusterEventsHandler({
      ...deps(),
      loadConfig: async () => podConfig(),
      requeue: async () => {
        throw new Error('an ACTIVE cluster needs no second look');
      },
      now: () => new Date(T0.getTime() + 15 * 60_000),
    });

    // Act
    const [outcome] = await handler(
      { Records: [{ body: cloudTrail('CreateCluster', US, 'fresh') } as SQSRecord] },
      lambdaContext(),
    );

    // Assess
    expect(outcome?.outcome).toBe('reconciled');
    expect(front.associations().filter((item) => item.clusterName === 'fresh')).toEqual([
      expect.objectContaining({
        region: US,
        namespace: 'observability',
        serviceAccount: 'otel',
        roleArn: (await podRole('otel'))?.arn,
      }),
    ]);
  });

  it("keeps the fleet role's pin and every association when a cluster is deleted, and leaves a role not yet made to the full run", async () => {
    // Prepare
    await reconcile(deps(), podConfig());
    const before = await podRole('otel');
    await deleteCluster(emulator.admin, { region: EU, name: 'beta' });
    await createCluster(emulator.admin, US, 'fresh');

    // Act: beta's delete event; then fresh's create event under a configuration that moved cost to pod-identity
    const deleted = await reconcileCluster(deps(), podConfig(), { region: EU, name: 'beta' });
    const afterDelete = await podRole('otel');
    const created = await reconcileCluster(deps(), podConfig(['otel', 'cost']), {
      region: US,
      name: 'fresh',
    });

    // Assess
    expect([deleted.failed, created.failed]).toEqual([false, false]);
    expect(afterDelete?.trustPolicy).toEqual(before?.trustPolicy);
    // Only beta's IRSA role (binding cost) goes; the fleet role and the associations stay to the full run
    expect(
      deleted.results
        .filter((result) => result.action.kind !== 'no-op' && result.action.kind !== 'association-no-op')
        .map((result) => result.action.kind),
    ).toEqual(['delete']);
    expect(await rolesOf('beta')).toEqual([]);
    expect(pinnedArns((await podRole('otel'))?.trustPolicy)).toEqual(['alpha', 'beta', 'fresh']);
    expect(await podRole('cost')).toBeUndefined();
    expect(created.skipped).toContainEqual(
      expect.objectContaining({
        bindingName: 'cost',
        reason: expect.stringContaining('the full run makes it'),
      }),
    );
    expect(
      front
        .associations()
        .map((item) => item.clusterName)
        .sort(),
    ).toEqual(['alpha', 'beta', 'fresh']); // the fake keeps a deleted cluster's (EKS drops them with it)
  });
});

describe('the cluster-events consumer, fed CloudTrail-shaped events (moto emits none)', () => {
  const emulator = useEmulator((admin) => createBoundaryPolicy(admin, BOUNDARY));
  const { deps, rolesOf } = helpers(emulator);

  async function consumer(statuses: Record<string, string[]> = {}, minutesAfter = 1, lease?: RunLease) {
    const front = await startPodIdentityFront(emulator.moto.endpoint, { clusterStatuses: statuses });
    const requeued: { body: string; delaySeconds: number }[] = [];
    const handler = createClusterEventsHandler({
      clients: emulatorClients(emulator.moto.endpoint, {
        eksEndpoints: { [EU]: front.endpoint, [US]: front.endpoint },
      }),
      logger: silentLogger,
      loadConfig: async () => config(),
      requeue: async (body, delaySeconds) => {
        requeued.push({ body, delaySeconds });
      },
      wait: { maxWaitMs: 20 * 60_000, pollSeconds: 60 },
      now: () => new Date(T0.getTime() + minutesAfter * 60_000),
      ...(lease ? { lease } : {}),
    });
    const deliver = async (body: string) =>
      (await handler({ Records: [{ body } as SQSRecord] }, lambdaContext()))[0];
    return { deliver, requeued, stop: () => front.stop() };
  }

  it('waits for a created cluster to turn ACTIVE by re-queueing, then gives it its roles; a duplicate writes nothing', async () => {
    // Prepare: the cluster reads CREATING twice, then ACTIVE
    await createCluster(emulator.admin, US, 'fresh');
    const { deliver, requeued, stop } = await consumer({ [`${US}/fresh`]: ['CREATING', 'CREATING'] });
    try {
      // Act
      const first = await deliver(cloudTrail('CreateCluster', US, 'fresh'));
      const second = await deliver(requeued[0]?.body ?? '');
      const third = await deliver(requeued[1]?.body ?? '');
      const duplicate = await deliver(cloudTrail('CreateCluster', US, 'fresh'));

      // Assess
      expect([first?.outcome, second?.outcome, third?.outcome]).toEqual(['waiting', 'waiting', 'reconciled']);
      expect(requeued.map((message) => message.delaySeconds)).toEqual([60, 60]);
      expect((await rolesOf('fresh')).length).toBe(2);
      expect(duplicate?.outcome === 'reconciled' && writes(duplicate.report)).toBe(0);
    } finally {
      await stop();
    }
  });

  it('puts the event back while another run holds the run lease, writing nothing, then reconciles once it is free', async () => {
    // Prepare: the cluster is ACTIVE; the scheduled run holds the lease
    await createCluster(emulator.admin, US, 'fresh');
    await createRunLeaseTable(emulator.moto.endpoint);
    const dynamo = emulatorDynamo(emulator.moto.endpoint);
    const lease = dynamoLease(dynamo, { table: RUN_LEASE_TABLE });
    const scheduled = await holdLeaseElsewhere(lease, 'reconcile 42');
    const { deliver, requeued, stop } = await consumer({}, 1, lease);
    const late = await consumer({}, 25, lease);
    try {
      // Act
      const busy = await deliver(cloudTrail('CreateCluster', US, 'fresh'));
      const pastTheBound = await late.deliver(cloudTrail('CreateCluster', US, 'fresh'));
      const rolesWhileBusy = await rolesOf('fresh');
      await scheduled.release();
      const later = await deliver(requeued[0]?.body ?? '');

      // Assess
      expect(busy).toMatchObject({
        outcome: 'waiting',
        delaySeconds: 60,
        reason: expect.stringContaining('another run holds the lease (reconcile 42)'),
      });
      expect(pastTheBound).toMatchObject({
        outcome: 'gave-up',
        reason: expect.stringContaining('left to the scheduled run'),
      });
      expect(late.requeued).toEqual([]);
      expect(rolesWhileBusy).toEqual([]);
      expect(later?.outcome).toBe('reconciled');
      expect(await rolesOf('fresh')).toHaveLength(2);
    } finally {
      await stop();
      await late.stop();
      dynamo.destroy();
    }
  });

  it("prunes a deleted cluster's roles once it is DELETING", async () => {
    // Prepare
    await createCluster(emulator.admin, EU, 'doomed');
    await reconcile(deps(), config());
    // DELETING for the consumer's look, and for the reconcile's own read of the cluster
    const { deliver, stop } = await consumer({ [`${EU}/doomed`]: ['DELETING', 'DELETING'] });
    try {
      // Act
      const outcome = await deliver(cloudTrail('DeleteCluster', EU, 'doomed'));

      // Assess
      expect(outcome?.outcome === 'reconciled' && outcome.report.counts.deleted).toBe(2);
      expect(await rolesOf('doomed')).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('leaves a cluster that stays CREATING past the wait to the scheduled run, and ignores an unscanned region', async () => {
    await createCluster(emulator.admin, US, 'slow');
    const { deliver, requeued, stop } = await consumer({ [`${US}/slow`]: ['CREATING'] }, 25);
    try {
      const late = await deliver(cloudTrail('CreateCluster', US, 'slow'));
      const elsewhere = await deliver(cloudTrail('CreateCluster', 'ap-southeast-2', 'slow'));
      expect(late).toMatchObject({
        outcome: 'gave-up',
        reason: expect.stringContaining('left to the scheduled run'),
      });
      expect(elsewhere).toMatchObject({ outcome: 'ignored' });
      expect(requeued).toEqual([]);
      expect(await rolesOf('slow')).toEqual([]);
    } finally {
      await stop();
    }
  });
});
