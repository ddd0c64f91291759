import { podIdentityOwnershipTags } from '../../../../lib/reconciler/ownership';
import { desiredState } from '../../../../lib/reconciler/plan/desired';
import { plan } from '../../../../lib/reconciler/plan/plan';
import { clusterKeyOf } from '../../../../lib/reconciler/pod-identity';
import type {
  Action,
  ClusterAssociations,
  ClusterInfo,
  DesiredPodIdentityRole,
  Discovery,
  ObservedAssociation,
  ObservedRole,
  ReconcilerConfig,
  RegionScan,
} from '../../../../lib/reconciler/types';
import {
  ACCOUNT,
  APP_BINDING,
  completeScan,
  makeCluster,
  makeConfig,
  makeDiscovery,
  observedFrom,
  STAGE,
  unknownScan,
} from '../support';

const EU = 'eu-west-1';
const US = 'us-east-1';
const prod = makeCluster('prod', EU);
const staging = makeCluster('staging', EU);
const east = makeCluster('east', US);
const POD_APP = { ...APP_BINDING, mode: 'pod-identity' as const };

function podConfig(raw: Record<string, unknown> = {}): ReconcilerConfig {
  return makeConfig({ regions: [EU, US], bindings: [POD_APP], ...raw });
}

/** The role IAM would hold for a pod-identity binding. */
function podRoleOf(
  config: ReconcilerConfig,
  discovery: Discovery,
): { desired: DesiredPodIdentityRole; observed: ObservedRole } {
  const desired = desiredState(config, discovery).roles.find(
    (role): role is DesiredPodIdentityRole => role.mode === 'pod-identity',
  );
  if (!desired) throw new Error('no pod-identity role desired');
  const [observed] = observedFrom([desired]);
  if (!observed) throw new Error('no observed role');
  return { desired, observed };
}

let nextId = 0;
function association(
  cluster: ClusterInfo,
  roleArn: string,
  overrides: Partial<ObservedAssociation> = {},
): ObservedAssociation {
  nextId++;
  return {
    region: cluster.region,
    clusterName: cluster.name,
    associationId: `a-${String(nextId).padStart(17, '0')}`,
    namespace: APP_BINDING.namespace,
    serviceAccount: APP_BINDING.serviceAccount,
    roleArn,
    tags: podIdentityOwnershipTags(STAGE, 'app'),
    ...overrides,
  };
}

function views(
  clusters: ClusterInfo[],
  associations: ObservedAssociation[],
  extra: Partial<Record<string, Partial<ClusterAssociations>>> = {},
): Map<string, ClusterAssociations> {
  const map = new Map<string, ClusterAssociations>();
  for (const cluster of clusters) {
    const key = clusterKeyOf(cluster.region, cluster.name);
    const own = associations.filter(
      (item) => item.region === cluster.region && item.clusterName === cluster.name,
    );
    map.set(key, {
      region: cluster.region,
      clusterName: cluster.name,
      status: 'complete',
      total: own.length,
      associations: own,
      ...(extra[cluster.name] as object),
    } as ClusterAssociations);
  }
  return map;
}

function planWith(
  config: ReconcilerConfig,
  regions: RegionScan[],
  roles: ObservedRole[],
  associations: Map<string, ClusterAssociations>,
) {
  const discovery = makeDiscovery(regions);
  return plan(
    desiredState(config, discovery),
    { roles, oidcProviderArns: discovery.oidcProviderArns, associations },
    discovery,
    config,
  );
}

function summary(actions: Action[]): string[] {
  return actions.map((action) => {
    switch (action.kind) {
      case 'create-association':
        return `create-association ${action.association.clusterName}`;
      case 'update-association':
      case 'association-no-op':
        return `${action.kind} ${action.association.clusterName}`;
      case 'delete-association':
        return `delete-association ${action.association.clusterName}: ${action.reason}`;
      case 'install-agent':
        return `install-agent ${action.clusterName}`;
      case 'create':
        return `create ${action.role.roleName}`;
      case 'create-oidc-provider':
        return action.kind;
      case 'delete':
        return `delete ${action.roleName}: ${action.reason}`;
      case 'put-parameter':
      case 'delete-parameter':
      case 'put-forwarding-rule':
      case 'delete-forwarding-rule':
      case 'forwarding-no-op':
        return action.kind;
      default:
        return `${action.kind} ${action.roleName}`;
    }
  });
}

describe('the plan of Pod Identity associations', () => {
  const config = podConfig();
  const regions = [completeScan(EU, [prod, staging]), completeScan(US, [east])];
  const { desired: role, observed: roleInIam } = podRoleOf(config, makeDiscovery(regions));

  it('creates the role, then one association per selected cluster', () => {
    const result = planWith(config, regions, [], views([prod, staging, east], []));
    expect(summary(result.actions)).toEqual([
      `create ${role.roleName}`,
      'put-policy ' + role.roleName,
      'create-association prod',
      'create-association staging',
      'create-association east',
    ]);
  });

  it('changes nothing when every association is in place (a no-op each)', () => {
    const result = planWith(
      config,
      regions,
      [roleInIam],
      views(
        [prod, staging, east],
        [association(prod, role.arn), association(staging, role.arn), association(east, role.arn)],
      ),
    );
    expect(summary(result.actions)).toEqual([
      `no-op ${role.roleName}`,
      'association-no-op prod',
      'association-no-op staging',
      'association-no-op east',
    ]);
  });

  it('points an owned association at the right role', () => {
    const wrong = association(prod, `arn:aws:iam::${ACCOUNT.accountId}:role/other`);
    const result = planWith(
      config,
      [completeScan(EU, [prod]), completeScan(US, [])],
      [roleInIam],
      views([prod], [wrong]),
    );
    expect(result.actions).toContainEqual(
      expect.objectContaining({
        kind: 'update-association',
        associationId: wrong.associationId,
        roleArn: role.arn,
      }),
    );
  });

  it.each([
    ['no ownership tags', { tags: {} }],
    ['another stage', { tags: podIdentityOwnershipTags('prod', 'app') }],
    ['an add-on owner', { ownerArn: 'arn:aws:eks:eu-west-1:111122223333:addon/prod/x/1' }],
  ])(
    'never touches an association with %s at the same ServiceAccount: the cluster is skipped',
    (_, overrides) => {
      const foreign = association(prod, 'arn:aws:iam::111122223333:role/theirs', overrides);
      const result = planWith(
        config,
        [completeScan(EU, [prod]), completeScan(US, [])],
        [roleInIam],
        views([prod], [foreign]),
      );
      expect(result.actions.filter((action) => action.kind.includes('association'))).toEqual([]);
      expect(result.skipped).toContainEqual(
        expect.objectContaining({
          clusterName: 'prod',
          reason: expect.stringContaining('not owned by this deployment'),
        }),
      );
    },
  );

  it('deletes an owned association whose cluster is no longer selected', () => {
    const narrowed = podConfig({ clusters: { include: ['prod', 'east'] } });
    const { desired: same } = podRoleOf(narrowed, makeDiscovery(regions));
    const result = planWith(
      narrowed,
      regions,
      [roleInIam],
      views(
        [prod, staging, east],
        [association(prod, same.arn), association(staging, same.arn), association(east, same.arn)],
      ),
    );
    expect(summary(result.actions)).toContain(
      'delete-association staging: cluster staging is no longer selected',
    );
  });

  it('deletes the associations of a removed binding, then (next run) its role once none uses it', () => {
    // Prepare: the binding is gone from the configuration
    const removed = podConfig({ bindings: [], maxPruneFraction: 1 });
    const owned = [association(prod, role.arn), association(east, role.arn)];

    // Act
    const first = planWith(removed, regions, [roleInIam], views([prod, staging, east], owned));
    const second = planWith(removed, regions, [roleInIam], views([prod, staging, east], []));

    // Assess
    expect(summary(first.actions)).toEqual([
      'delete-association prod: binding app was removed from the configuration',
      'delete-association east: binding app was removed from the configuration',
    ]);
    expect(first.skipped).toContainEqual(
      expect.objectContaining({ reason: expect.stringContaining('is still used by an association; kept') }),
    );
    expect(summary(second.actions)).toEqual([
      `delete ${role.roleName}: binding app was removed and no association uses the role`,
    ]);
  });

  it('never deletes in a region whose scan failed, nor the role while a region is unknown', () => {
    const removed = podConfig({ bindings: [], maxPruneFraction: 1 });
    const result = planWith(
      removed,
      [completeScan(EU, [prod]), unknownScan(US, [east])],
      [roleInIam],
      views([prod, east], [association(prod, role.arn), association(east, role.arn)]),
    );
    expect(summary(result.actions)).toEqual([
      'delete-association prod: binding app was removed from the configuration',
    ]);
  });

  it('creates and prunes nothing in a cluster whose associations could not be read', () => {
    const failed = views([prod], []);
    failed.set(clusterKeyOf(EU, 'prod'), {
      region: EU,
      clusterName: 'prod',
      status: 'unknown',
      error: 'AccessDenied',
    });
    const removed = podConfig({ bindings: [] });
    const create = planWith(config, [completeScan(EU, [prod]), completeScan(US, [])], [roleInIam], failed);
    const prune = planWith(removed, [completeScan(EU, [prod]), completeScan(US, [])], [roleInIam], failed);
    expect(create.actions.filter((action) => action.kind.includes('association'))).toEqual([]);
    expect(create.skipped).toContainEqual(
      expect.objectContaining({ reason: 'associations could not be read: AccessDenied' }),
    );
    expect(prune.actions).toEqual([]);
  });

  it('holds back association deletes past the deletion guard, counted with the roles', () => {
    const removed = podConfig({ bindings: [], maxPruneFraction: 0.25 });
    const owned = [association(prod, role.arn), association(staging, role.arn), association(east, role.arn)];
    const result = planWith(removed, regions, [roleInIam], views([prod, staging, east], owned));
    expect(result.actions).toEqual([]);
    expect(result.pruneBlocked).toEqual({ wouldDelete: 3, owned: 4, maxPruneFraction: 0.25 });
  });

  it('skips a cluster without the agent add-on, or installs it when asked', () => {
    const noAgent = views([prod], [], { prod: { agent: 'MISSING' } });
    const scans = [completeScan(EU, [prod]), completeScan(US, [])];
    const prodRole = podRoleOf(config, makeDiscovery(scans)).observed;
    const skipped = planWith(config, scans, [prodRole], noAgent);
    const installing = planWith(
      podConfig({ podIdentity: { installAgent: true } }),
      scans,
      [prodRole],
      noAgent,
    );
    expect(skipped.actions.map((action) => action.kind)).toEqual(['no-op']);
    expect(skipped.skipped).toContainEqual(
      expect.objectContaining({
        clusterName: 'prod',
        reason: expect.stringContaining('eks-pod-identity-agent add-on is not installed'),
      }),
    );
    expect(summary(installing.actions)).toEqual([
      `no-op ${role.roleName}`,
      'install-agent prod',
      'create-association prod',
    ]);
  });

  it("checks EKS's 5,000 associations per cluster before creating", () => {
    const full = views([prod], [], { prod: { total: 5_000 } });
    const scans = [completeScan(EU, [prod]), completeScan(US, [])];
    const result = planWith(config, scans, [podRoleOf(config, makeDiscovery(scans)).observed], full);
    expect(result.actions.map((action) => action.kind)).toEqual(['no-op']);
    expect(result.skipped).toContainEqual(
      expect.objectContaining({ reason: 'the cluster has 5000 associations: EKS allows 5000 per cluster' }),
    );
  });
});

describe('moving a binding between irsa and pod-identity', () => {
  const irsa = makeConfig({ regions: [EU, US] });
  const pod = podConfig();
  const regions = [completeScan(EU, [prod]), completeScan(US, [east])];
  const discovery = makeDiscovery(regions);
  const irsaRoles = observedFrom(desiredState(irsa, discovery).roles);
  const { desired: role, observed: roleInIam } = podRoleOf(pod, discovery);

  it('first makes the role and the associations, and keeps the IRSA roles', () => {
    const result = planWith(pod, regions, irsaRoles, views([prod, east], []));
    expect(result.actions.map((action) => action.kind)).toEqual([
      'create',
      'put-policy',
      'create-association',
      'create-association',
    ]);
  });

  it('deletes each IRSA role only once its cluster has the association (a later run)', () => {
    const result = planWith(
      pod,
      regions,
      [...irsaRoles, roleInIam],
      views([prod, east], [association(prod, role.arn)]),
    );
    const deleted = result.actions.filter((action) => action.kind === 'delete');
    expect(deleted).toEqual([
      expect.objectContaining({
        roleName: irsaRoles.find((r) => r.tags['irsa-reconciler/cluster'] === 'prod')?.roleName,
        reason: "binding app moved to pod-identity and the cluster's association for it exists",
      }),
    ]);
    expect(result.actions).toContainEqual(expect.objectContaining({ kind: 'create-association' }));
  });

  it('back to irsa: the IRSA roles first, then each association once its role exists, then the role', () => {
    // Run 1: associations exist, no IRSA role yet
    const first = planWith(
      irsa,
      regions,
      [roleInIam],
      views([prod, east], [association(prod, role.arn), association(east, role.arn)]),
    );
    expect(first.actions.map((action) => action.kind)).toEqual([
      'create',
      'put-policy',
      'create',
      'put-policy',
    ]);
    expect(first.skipped).toContainEqual(
      expect.objectContaining({
        reason: expect.stringContaining("kept until the binding's IRSA role exists"),
      }),
    );

    // Run 2: IRSA roles exist: the associations go; the role stays while they are observed
    const second = planWith(
      irsa,
      regions,
      [...irsaRoles, roleInIam],
      views([prod, east], [association(prod, role.arn), association(east, role.arn)]),
    );
    expect(second.actions.filter((action) => action.kind !== 'no-op').map((action) => action.kind)).toEqual([
      'delete-association',
      'delete-association',
    ]);

    // Run 3: no association uses the role: it is deleted
    const third = planWith(irsa, regions, [...irsaRoles, roleInIam], views([prod, east], []));
    expect(summary(third.actions.filter((action) => action.kind === 'delete'))).toEqual([
      `delete ${role.roleName}: binding app moved to irsa and no association uses the role`,
    ]);
  });
});

describe('a Pod Identity role whose name someone else holds', () => {
  it('gets no association pointing at it, only the skipped role', () => {
    // Prepare: the binding's role name is taken by a role this deployment does not own
    const config = podConfig();
    const regions = [completeScan(EU, [prod]), completeScan(US, [])];
    const discovery = makeDiscovery(regions);
    const wanted = desiredState(config, discovery);
    const roleName = wanted.roles[0]?.roleName ?? '';
    const held = new Map([[roleName.toLowerCase(), { roleName, path: '/someone-else/' }]]);

    // Act
    const result = plan(
      wanted,
      { roles: [], takenNames: held, oidcProviderArns: [], associations: views([prod], []) },
      discovery,
      config,
    );

    // Assess
    expect(result.actions).toEqual([]);
    expect(result.skipped).toContainEqual(
      expect.objectContaining({ bindingName: 'app', reason: expect.stringContaining('role name taken') }),
    );
  });
});
