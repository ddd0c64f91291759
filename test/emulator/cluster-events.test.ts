/**
 * The single-cluster reconcile an EKS CreateCluster or DeleteCluster event runs (issue 13's core),
 * against the emulator: the same plan and apply as the full run, on one cluster's calls only.
 */
import { silentLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, reconcileCluster } from '../../lib/reconciler/index';
import type { ReconcileReport, ReconcilerConfig } from '../../lib/reconciler/types';
import {
  createBoundaryPolicy,
  createCluster,
  deleteCluster,
  emulatorClients,
  readAllRoles,
  useEmulator,
} from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID } from '../support/moto-server';

const BOUNDARY = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-boundary`;
const ROLE_PATH = '/irsa-reconciler/qa/';
const EU = 'eu-west-1';
const US = 'us-east-1';

function config(): ReconcilerConfig {
  return parseReconcilerConfig(
    {
      regions: [EU, US],
      clusters: { include: ['*'], exclude: ['sandbox-*'] },
      permissionsBoundaryArn: BOUNDARY,
      createOidcProvider: true,
      bindings: [
        { name: 'otel', namespace: 'observability', serviceAccount: 'otel', policies: [] },
        { name: 'cost', namespace: 'finops', serviceAccount: 'cost', policies: [] },
      ],
    },
    { stage: 'qa', deploymentRegion: EU },
  );
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

describe('reconciling one cluster, as an event about it does', () => {
  const emulator = useEmulator((admin) => createBoundaryPolicy(admin, BOUNDARY));

  const deps = (overrides: { eksEndpoints?: Record<string, string> } = {}) => ({
    clients: emulatorClients(emulator.moto.endpoint, overrides),
    logger: silentLogger,
  });
  const rolesOf = async (cluster: string) =>
    Object.values(await readAllRoles(emulator.admin, ROLE_PATH)).filter(
      (role) => role.tags['irsa-reconciler/cluster'] === cluster,
    );

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
