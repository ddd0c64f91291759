import fc from 'fast-check';
import {
  TAG_CLUSTER,
  TAG_MANAGED_BY,
  TAG_MANAGED_BY_VALUE,
  TAG_REGION,
  TAG_STAGE,
} from '../../../../lib/reconciler/ownership';
import { desiredState } from '../../../../lib/reconciler/plan/desired';
import { allowedDeletes, plan } from '../../../../lib/reconciler/plan/plan';
import { policiesEqual } from '../../../../lib/reconciler/plan/policy-compare';
import { simulatePlan } from '../../../../lib/reconciler/plan/simulate';
import type {
  Action,
  ClusterInfo,
  ObservedRole,
  ReconcilerConfig,
  RegionScan,
} from '../../../../lib/reconciler/types';
import {
  ACCOUNT,
  APP_BINDING,
  completeScan,
  foreignRole,
  makeCluster,
  makeConfig,
  makeDiscovery,
  observedFrom,
  providerArnOf,
  WORKER_BINDING,
} from '../support';

const REGIONS = ['eu-west-1', 'us-east-1'];
const CLUSTER_NAMES = ['prod', 'staging', 'prod-2', `long-${'x'.repeat(95)}`];
const READER_BINDING = {
  name: 'reader',
  namespace: 'config',
  serviceAccount: 'reader',
  mode: 'irsa' as const,
  policies: [
    {
      template: 'appconfig-read',
      params: { ApplicationId: 'app1234', EnvironmentId: 'env1234', ConfigurationProfileId: 'prf1234' },
    },
    { template: 's3-prefix-access', params: { BucketName: 'second-bucket', Prefix: 'cfg' } },
  ],
};
const BINDINGS = [APP_BINDING, WORKER_BINDING, READER_BINDING];
const BOUNDARY = 'arn:aws:iam::123456789012:policy/boundary';

const DRIFTS = [
  'trust',
  'policy-edit',
  'policy-remove',
  'policy-add',
  'policy-reshape',
  'tag-remove',
  'tag-change',
  'boundary',
  'disown',
  'other-stage',
  'other-path',
] as const;
type Drift = (typeof DRIFTS)[number];

const clusterArb = fc.record({
  name: fc.constantFrom(...CLUSTER_NAMES),
  status: fc.constantFrom('ACTIVE', 'ACTIVE', 'ACTIVE', 'UPDATING', 'CREATING', 'DELETING', 'FAILED'),
  hasIssuer: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(true), fc.constant(false)),
  providerExists: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
  optOut: fc.oneof(fc.constant(false), fc.constant(false), fc.constant(false), fc.constant(true)),
});

const scanArb = fc.record({
  complete: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
  clusters: fc.uniqueArray(clusterArb, { selector: (c) => c.name, maxLength: 4 }),
});

const worldArb = fc.record({
  previous: fc.record({
    clusters: fc.tuple(fc.subarray(CLUSTER_NAMES), fc.subarray(CLUSTER_NAMES)),
    bindings: fc.subarray(BINDINGS),
    prefix: fc.constantFrom('irsa-', 'old-'),
    tags: fc.constantFrom({}, { team: 'a' }),
  }),
  scans: fc.tuple(scanArb, scanArb),
  regions: fc.subarray(REGIONS, { minLength: 1 }),
  bindings: fc.subarray(BINDINGS),
  prune: fc.boolean(),
  forcePrune: fc.boolean(),
  maxPruneFraction: fc.constantFrom(0.25, 0.5, 1),
  createOidcProvider: fc.boolean(),
  boundary: fc.boolean(),
  tags: fc.constantFrom({}, { team: 'a' }, { team: 'b', env: 'prod' }),
  drifts: fc.array(fc.record({ index: fc.nat(), drift: fc.constantFrom(...DRIFTS) }), { maxLength: 8 }),
  foreign: fc.array(fc.constantFrom('foreign-a', 'foreign-b', 'irsa-prod-app-0000000000'), { maxLength: 3 }),
});

type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function build(world: World) {
  const previousConfig = makeConfig({
    regions: REGIONS,
    bindings: world.previous.bindings,
    roleNamePrefix: world.previous.prefix,
    tags: world.previous.tags,
  });
  const previousScans = REGIONS.map((region, i) =>
    completeScan(
      region,
      (world.previous.clusters[i] ?? []).map((name) => makeCluster(name, region)),
    ),
  );
  const roles = observedFrom(desiredState(previousConfig, makeDiscovery(previousScans)).roles);
  for (const { index, drift } of world.drifts) {
    const role = roles[index % Math.max(1, roles.length)];
    if (role) applyDrift(role, drift);
  }
  const foreign = world.foreign.map((name) => foreignRole(name));

  const config = makeConfig({
    regions: world.regions,
    bindings: world.bindings,
    prune: world.prune,
    forcePrune: world.forcePrune,
    maxPruneFraction: world.maxPruneFraction,
    createOidcProvider: world.createOidcProvider,
    tags: world.tags,
    ...(world.boundary ? { permissionsBoundaryArn: BOUNDARY } : {}),
  });
  const providers: string[] = [];
  const scans: RegionScan[] = world.regions.map((region) => {
    const scan = world.scans[REGIONS.indexOf(region)] ?? { complete: true, clusters: [] };
    const clusters: ClusterInfo[] = scan.clusters.map((c) => {
      const cluster = makeCluster(c.name, region, {
        status: c.status,
        tags: c.optOut ? { 'irsa-reconciler/opt-out': 'true' } : {},
      });
      if (!c.hasIssuer) delete cluster.oidcIssuer;
      else if (c.providerExists) providers.push(providerArnOf(cluster));
      return cluster;
    });
    return scan.complete
      ? { region, status: 'complete', clusters }
      : { region, status: 'unknown', clusters, error: 'scan failed' };
  });
  const discovery = { account: ACCOUNT, regions: scans, oidcProviderArns: providers };
  const observed = { roles: [...roles, ...foreign], oidcProviderArns: providers };
  return { config, discovery, observed };
}

function applyDrift(role: ObservedRole, drift: Drift): void {
  const [firstPolicy] = Object.keys(role.inlinePolicies);
  switch (drift) {
    case 'trust':
      role.trustPolicy = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
      };
      return;
    case 'policy-edit':
      if (firstPolicy)
        role.inlinePolicies[firstPolicy] = {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        };
      return;
    case 'policy-remove':
      if (firstPolicy) delete role.inlinePolicies[firstPolicy];
      return;
    case 'policy-add':
      role.inlinePolicies['added-by-hand'] = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
      };
      return;
    case 'policy-reshape': {
      const document = firstPolicy ? role.inlinePolicies[firstPolicy] : undefined;
      if (firstPolicy && document) {
        // IAM may hand back Statement as an object once someone wrote it so; reshape works on both.
        const statements: unknown[] = Array.isArray(document.Statement)
          ? document.Statement
          : [document.Statement];
        const [statement, ...rest] = [...statements].reverse();
        role.inlinePolicies[firstPolicy] = JSON.parse(
          JSON.stringify({
            Statement: rest.length === 0 ? statement : [statement, ...rest],
            Version: '2012-10-17',
          }),
        );
      }
      return;
    }
    case 'tag-remove':
      delete role.tags[TAG_CLUSTER];
      return;
    case 'tag-change':
      role.tags.team = 'edited';
      return;
    case 'boundary':
      role.permissionsBoundaryArn = 'arn:aws:iam::123456789012:policy/other';
      return;
    case 'disown':
      delete role.tags[TAG_MANAGED_BY];
      return;
    case 'other-stage':
      role.tags[TAG_STAGE] = 'prod';
      return;
    case 'other-path':
      role.path = '/somewhere-else/';
      return;
  }
}

/** Ownership as the specification states it, written independently of the code under test. */
function owned(role: ObservedRole, config: ReconcilerConfig): boolean {
  return (
    role.path === config.rolePath &&
    role.tags[TAG_MANAGED_BY] === TAG_MANAGED_BY_VALUE &&
    role.tags[TAG_STAGE] === config.stage
  );
}

function actionRoleName(action: Action): string | undefined {
  if (action.kind === 'create') return action.role.roleName;
  return 'roleName' in action ? action.roleName : undefined;
}

describe('plan (properties)', () => {
  it('never plans anything for a role it does not own', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        // Prepare
        const { config, discovery, observed } = build(world);
        const unowned = new Set(observed.roles.filter((r) => !owned(r, config)).map((r) => r.roleName));

        // Act
        const result = plan(desiredState(config, discovery), observed, discovery, config);

        // Assess
        for (const action of result.actions) {
          const name = actionRoleName(action);
          if (name !== undefined) expect(unowned.has(name)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('brings every desired role to its desired state, leaves unowned roles as they were, and then has nothing to do', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        // Prepare
        const { config, discovery, observed } = build(world);
        const desired = desiredState(config, discovery);
        const unownedBefore = observed.roles.filter((r) => !owned(r, config));

        // Act
        const first = plan(desired, observed, discovery, config);
        const after = simulatePlan(observed, first, ACCOUNT);
        const second = plan(desired, after, discovery, config);

        // Assess: desired roles match (unless the name is held by a role we do not own)
        const byName = new Map(after.roles.map((r) => [r.roleName, r]));
        const taken = new Set(unownedBefore.map((r) => r.roleName));
        for (const role of desired.roles) {
          if (taken.has(role.roleName)) continue;
          const actual = byName.get(role.roleName);
          expect(actual).toBeDefined();
          if (!actual) continue;
          expect(owned(actual, config)).toBe(true);
          expect(policiesEqual(actual.trustPolicy, role.trustPolicy)).toBe(true);
          expect(Object.keys(actual.inlinePolicies).sort()).toEqual(Object.keys(role.inlinePolicies).sort());
          for (const [name, document] of Object.entries(role.inlinePolicies)) {
            expect(policiesEqual(actual.inlinePolicies[name], document)).toBe(true);
          }
          expect(actual.tags).toMatchObject(role.tags);
          expect(actual.permissionsBoundaryArn).toBe(role.permissionsBoundaryArn);
        }
        // Unowned roles are exactly as they were.
        for (const role of unownedBefore) expect(byName.get(role.roleName)).toEqual(role);
        // The second run changes nothing.
        expect(second.actions.filter((a) => a.kind !== 'no-op')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('deletes only owned roles in completely scanned regions, only with prune, within the guard', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        // Prepare
        const { config, discovery, observed } = build(world);
        const scans = new Map(discovery.regions.map((scan) => [scan.region, scan.status]));
        const roles = new Map(observed.roles.map((r) => [r.roleName, r]));
        const ownedCount = observed.roles.filter((r) => owned(r, config)).length;

        // Act
        const result = plan(desiredState(config, discovery), observed, discovery, config);

        // Assess
        const deletes = result.actions.filter((a) => a.kind === 'delete');
        const creates = result.actions.filter((a) => a.kind === 'create');
        if (deletes.length > 0) expect(config.prune).toBe(true);
        if (!config.forcePrune) {
          const base = ownedCount + creates.length;
          expect(deletes.length).toBeLessThanOrEqual(allowedDeletes(base, config.maxPruneFraction));
        }
        if (result.pruneBlocked) expect(deletes).toEqual([]);
        for (const action of deletes) {
          const role = roles.get(action.roleName);
          expect(role && owned(role, config)).toBe(true);
          expect(scans.get(role?.tags[TAG_REGION] ?? '')).toBe('complete');
        }
      }),
      { numRuns: 300 },
    );
  });
});
