import { TAG_CLUSTER, TAG_MANAGED_BY, TAG_STAGE } from '../../../../lib/reconciler/ownership';
import { desiredState } from '../../../../lib/reconciler/plan/desired';
import { allowedDeletes, NAME_TAKEN_REASON, plan, teardownPlan } from '../../../../lib/reconciler/plan/plan';
import { simulatePlan } from '../../../../lib/reconciler/plan/simulate';
import type {
  Action,
  ClusterInfo,
  Discovery,
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
  unknownScan,
  WORKER_BINDING,
} from '../support';

/** Owned roles exactly as desired for these clusters under this config (what a previous run left). */
function rolesFor(config: ReconcilerConfig, regions: RegionScan[]): ObservedRole[] {
  return observedFrom(desiredState(config, makeDiscovery(regions)).roles);
}

function planFor(config: ReconcilerConfig, discovery: Discovery, roles: ObservedRole[]) {
  return plan(
    desiredState(config, discovery),
    { roles, oidcProviderArns: discovery.oidcProviderArns },
    discovery,
    config,
  );
}

function kinds(actions: Action[]): string[] {
  return actions.map((action) => action.kind);
}

function roleNamesIn(actions: Action[]): Set<string> {
  return new Set(
    actions.flatMap((a) => (a.kind === 'create' ? [a.role.roleName] : 'roleName' in a ? [a.roleName] : [])),
  );
}

function deletes(actions: Action[]) {
  return actions.filter((a): a is Extract<Action, { kind: 'delete' }> => a.kind === 'delete');
}

const EU = 'eu-west-1';
const US = 'us-east-1';
const prod = makeCluster('prod', EU);
const staging = makeCluster('staging', EU);

describe('plan', () => {
  it('creates every missing role with its inline policies, then nothing is left to do', () => {
    // Prepare
    const config = makeConfig({ bindings: [APP_BINDING, WORKER_BINDING] });
    const discovery = makeDiscovery([completeScan(EU, [prod, staging])]);

    // Act
    const result = planFor(config, discovery, []);

    // Assess
    expect(kinds(result.actions)).toEqual(Array(4).fill(['create', 'put-policy']).flat());
    const after = simulatePlan({ roles: [], oidcProviderArns: [] }, result, ACCOUNT);
    expect(kinds(planFor(config, discovery, after.roles).actions)).toEqual(Array(4).fill('no-op'));
  });

  it('plans a single no-op per role when IAM holds what is desired', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod, staging])]);
    const roles = rolesFor(config, discovery.regions);

    // Act
    const result = planFor(config, discovery, roles);

    // Assess
    expect(result.actions).toEqual(roles.map((role) => ({ kind: 'no-op', roleName: role.roleName })));
    expect(result.pruneBlocked).toBeUndefined();
  });

  it('sees no drift in policies IAM returns in another shape', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [role] = rolesFor(config, discovery.regions);
    if (!role) throw new Error('no role');
    const [statement] = role.trustPolicy.Statement;
    role.trustPolicy = JSON.parse(
      JSON.stringify({
        Statement: { ...statement, Action: ['sts:AssumeRoleWithWebIdentity'] },
        Version: '2012-10-17',
      }),
    );

    // Act + Assess
    expect(kinds(planFor(config, discovery, [role]).actions)).toEqual(['no-op']);
  });

  it('reverts a manual edit of the trust policy', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const roles = rolesFor(config, discovery.regions);
    const desiredTrust = structuredClone(roles[0]?.trustPolicy);
    const statement = roles[0]?.trustPolicy.Statement[0];
    if (!statement) throw new Error('no statement');
    statement.Condition = { StringLike: { 'x:sub': 'system:serviceaccount:*:*' } };

    // Act
    const result = planFor(config, discovery, roles);

    // Assess
    expect(result.actions).toEqual([
      { kind: 'update-trust', roleName: roles[0]?.roleName, trustPolicy: desiredTrust },
    ]);
  });

  it('reverts an edited inline policy, restores a missing one and removes one it does not want', () => {
    // Prepare
    const config = makeConfig({
      bindings: [{ ...APP_BINDING, policies: [...APP_BINDING.policies, ...WORKER_BINDING.policies] }],
    });
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [role] = rolesFor(config, discovery.regions);
    if (!role) throw new Error('no role');
    const wanted = structuredClone(role.inlinePolicies);
    role.inlinePolicies['s3-prefix-access'] = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
    };
    delete role.inlinePolicies['secretsmanager-read'];
    role.inlinePolicies['added-by-hand'] = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
    };

    // Act
    const result = planFor(config, discovery, [role]);

    // Assess
    expect(result.actions).toEqual([
      { kind: 'delete-policy', roleName: role.roleName, policyName: 'added-by-hand' },
      {
        kind: 'put-policy',
        roleName: role.roleName,
        policyName: 's3-prefix-access',
        document: wanted['s3-prefix-access'],
      },
      {
        kind: 'put-policy',
        roleName: role.roleName,
        policyName: 'secretsmanager-read',
        document: wanted['secretsmanager-read'],
      },
    ]);
  });

  it('repairs missing or changed tags, keeping tags others added', () => {
    // Prepare
    const config = makeConfig({ tags: { team: 'payments' } });
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [role] = rolesFor(config, discovery.regions);
    if (!role) throw new Error('no role');
    delete role.tags[TAG_CLUSTER];
    role.tags.team = 'someone-else';
    role.tags['added-by-hand'] = 'kept';

    // Act
    const result = planFor(config, discovery, [role]);

    // Assess
    expect(result.actions).toEqual([
      { kind: 'tag', roleName: role.roleName, tags: { team: 'payments', [TAG_CLUSTER]: 'prod' } },
    ]);
  });

  it('gives the boundary to an owned role without one, and swaps a different one for it; never removes it', () => {
    // Prepare
    const boundary = 'arn:aws:iam::123456789012:policy/boundary';
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [role] = rolesFor(makeConfig({ permissionsBoundaryArn: boundary }), discovery.regions);
    if (!role) throw new Error('no role');
    const unbounded: ObservedRole = { ...role };
    delete unbounded.permissionsBoundaryArn;
    const otherBoundary: ObservedRole = {
      ...role,
      permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/other',
    };

    // Act
    const add = planFor(makeConfig({ permissionsBoundaryArn: boundary }), discovery, [unbounded]).actions;
    const swap = planFor(makeConfig({ permissionsBoundaryArn: boundary }), discovery, [
      otherBoundary,
    ]).actions;

    // Assess
    const roleName = role.roleName;
    expect(add).toEqual([{ kind: 'set-boundary', roleName, permissionsBoundaryArn: boundary }]);
    expect(swap).toEqual([{ kind: 'set-boundary', roleName, permissionsBoundaryArn: boundary }]);
  });

  it('reports a managed policy attached by hand to an owned role, and detaches it only when configured', () => {
    // Prepare
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [role] = rolesFor(makeConfig(), discovery.regions);
    if (!role) throw new Error('no role');
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    const drifted: ObservedRole = { ...role, attachedPolicyArns: [admin] };

    // Act
    const reported = planFor(makeConfig(), discovery, [drifted]);
    const detached = planFor(makeConfig({ detachUnmanagedPolicies: true }), discovery, [drifted]);

    // Assess
    expect(reported.actions).toEqual([{ kind: 'no-op', roleName: role.roleName }]);
    expect(reported.drift).toEqual([{ roleName: role.roleName, policyArn: admin, detach: false }]);
    expect(detached.actions).toEqual([{ kind: 'detach-policy', roleName: role.roleName, policyArn: admin }]);
    expect(detached.drift).toEqual([{ roleName: role.roleName, policyArn: admin, detach: true }]);
  });

  it('leaves a role it does not own alone even when it holds the desired name', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [ours] = rolesFor(config, discovery.regions);
    if (!ours) throw new Error('no role');
    const squatter = { ...ours, tags: { ...ours.tags, [TAG_MANAGED_BY]: 'terraform' } };

    // Act
    const result = planFor(config, discovery, [squatter]);

    // Assess
    expect(result.actions).toEqual([]);
    expect(result.skipped).toEqual([
      {
        region: EU,
        clusterName: 'prod',
        bindingName: 'app',
        reason: `${NAME_TAKEN_REASON}: ${squatter.path}${squatter.roleName}`,
      },
    ]);
  });

  it('skips a name held by a role anywhere in the account, naming the holder, with no write', () => {
    // Prepare: the bulk read saw the name on another path
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [wanted] = desiredState(config, discovery).roles;
    if (!wanted) throw new Error('no desired role');
    const takenNames = new Map([
      [wanted.roleName.toLowerCase(), { roleName: wanted.roleName, path: '/ci/' }],
    ]);

    // Act
    const result = plan(
      desiredState(config, discovery),
      { roles: [], takenNames, oidcProviderArns: discovery.oidcProviderArns },
      discovery,
      config,
    );

    // Assess
    expect(result.actions).toEqual([]);
    expect(result.skipped).toEqual([
      {
        region: EU,
        clusterName: 'prod',
        bindingName: 'app',
        reason: `${NAME_TAKEN_REASON}: /ci/${wanted.roleName}`,
      },
    ]);
  });

  it('treats a role name held in another letter case as taken (IAM names are case-insensitive)', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [prod])]);
    const [ours] = rolesFor(config, discovery.regions);
    if (!ours) throw new Error('no role');
    const squatter = foreignRole(ours.roleName.toUpperCase());

    // Act
    const result = planFor(config, discovery, [squatter]);

    // Assess
    expect(result.actions).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual([`${NAME_TAKEN_REASON}: /${squatter.roleName}`]);
  });

  it('never plans an action for roles of other paths, owners or stages, even when their cluster is gone', () => {
    // Prepare
    const config = makeConfig();
    const discovery = makeDiscovery([completeScan(EU, [])]);
    const [template] = rolesFor(config, [completeScan(EU, [prod])]);
    if (!template) throw new Error('no role');
    const others = [
      { ...template, roleName: 'other-path', path: '/irsa-reconciler/prod/' },
      { ...template, roleName: 'no-owner-tag', tags: { ...template.tags, [TAG_MANAGED_BY]: '' } },
      { ...template, roleName: 'other-stage', tags: { ...template.tags, [TAG_STAGE]: 'prod' } },
      foreignRole('irsa-prod-app-0123456789'),
    ];

    // Act
    const result = planFor(config, discovery, others);

    // Assess
    expect(result.actions).toEqual([]);
    expect(result.pruneBlocked).toBeUndefined();
  });

  describe('prune', () => {
    const config = makeConfig({
      regions: [EU, US],
      bindings: [APP_BINDING, WORKER_BINDING],
      maxPruneFraction: 1,
    });
    const before = [completeScan(EU, [prod, staging]), completeScan(US, [makeCluster('prod', US)])];
    const roles = rolesFor(config, before);
    const nameOf = (region: string, cluster: string, binding: string) =>
      roles.find(
        (r) =>
          r.tags['irsa-reconciler/region'] === region &&
          r.tags[TAG_CLUSTER] === cluster &&
          r.tags['irsa-reconciler/binding'] === binding,
      )?.roleName;

    it('deletes the roles of a cluster gone from a fully scanned region', () => {
      // Act
      const result = planFor(
        config,
        makeDiscovery([completeScan(EU, [prod]), before[1] as RegionScan]),
        roles,
      );

      // Assess
      expect(deletes(result.actions)).toEqual([
        {
          kind: 'delete',
          roleName: nameOf(EU, 'staging', 'app'),
          reason: 'cluster staging no longer exists in eu-west-1',
        },
        {
          kind: 'delete',
          roleName: nameOf(EU, 'staging', 'worker'),
          reason: 'cluster staging no longer exists in eu-west-1',
        },
      ]);
    });

    it('deletes the roles of a DELETING cluster', () => {
      // Prepare
      const deleting: ClusterInfo = { ...staging, status: 'DELETING' };

      // Act
      const result = planFor(
        config,
        makeDiscovery([completeScan(EU, [prod, deleting]), before[1] as RegionScan]),
        roles,
      );

      // Assess
      expect(deletes(result.actions).map((a) => a.reason)).toEqual(
        Array(2).fill('cluster staging is DELETING'),
      );
    });

    it('deletes nothing in a region whose scan failed, while the other regions are reconciled', () => {
      // Act
      const result = planFor(config, makeDiscovery([unknownScan(EU, [prod]), completeScan(US, [])]), roles);

      // Assess
      expect(
        deletes(result.actions)
          .map((a) => a.roleName)
          .sort(),
      ).toEqual([nameOf(US, 'prod', 'app'), nameOf(US, 'prod', 'worker')].sort());
      expect(kinds(result.actions).filter((k) => k === 'no-op')).toHaveLength(2);
    });

    it('deletes nothing in a region that was not scanned, and says so', () => {
      // Act
      const result = planFor(config, makeDiscovery([completeScan(EU, [prod, staging])]), roles);

      // Assess
      expect(deletes(result.actions)).toEqual([]);
      expect(result.skipped.map((s) => s.reason)).toEqual([
        expect.stringMatching(/is in region us-east-1, which was not scanned; left alone/),
        expect.stringMatching(/is in region us-east-1, which was not scanned; left alone/),
      ]);
    });

    it('deletes the roles of a binding removed from the configuration', () => {
      // Prepare
      const fewer = { ...config, bindings: config.bindings.filter((b) => b.name !== 'worker') };

      // Act
      const result = planFor(fewer, makeDiscovery(before), roles);

      // Assess
      expect(deletes(result.actions)).toHaveLength(3);
      expect(new Set(deletes(result.actions).map((a) => a.reason))).toEqual(
        new Set(['binding worker was removed from the configuration']),
      );
    });

    it('keeps the roles of a cluster that is present but skipped (opted out, failed, no provider)', () => {
      // Prepare
      const regions = [
        completeScan(EU, [
          { ...prod, tags: { 'irsa-reconciler/opt-out': 'true' } },
          { ...staging, status: 'FAILED' },
        ]),
        before[1] as RegionScan,
      ];
      const discovery = { ...makeDiscovery(regions), oidcProviderArns: [] };

      // Act
      const result = planFor(config, discovery, roles);

      // Assess
      expect(result.actions).toEqual([]);
    });

    it('replaces a role whose name changed (new prefix) by creating the new one and deleting the old', () => {
      // Prepare
      const renamed = { ...config, roleNamePrefix: 'wi-' };
      const discovery = makeDiscovery([completeScan(EU, [prod])]);
      const old = rolesFor(config, discovery.regions);

      // Act
      const result = planFor({ ...renamed, maxPruneFraction: 1 }, discovery, old);

      // Assess
      expect(kinds(result.actions)).toEqual([
        'create',
        'put-policy',
        'create',
        'put-policy',
        'delete',
        'delete',
      ]);
      expect(deletes(result.actions)[0]?.reason).toMatch(/^superseded by role wi-prod-/);
    });

    it('keeps the old role when its replacement name is taken by a role it does not own', () => {
      // Prepare
      const renamed = { ...config, roleNamePrefix: 'wi-', regions: [EU], bindings: [APP_BINDING] };
      const discovery = makeDiscovery([completeScan(EU, [prod])]);
      const old = rolesFor({ ...renamed, roleNamePrefix: 'irsa-' }, discovery.regions);
      const [wanted] = desiredState(renamed, discovery).roles;
      if (!wanted) throw new Error('no desired role');

      // Act
      const result = planFor(renamed, discovery, [...old, foreignRole(wanted.roleName)]);

      // Assess
      expect(result.actions).toEqual([]);
      expect(result.skipped.map((s) => s.reason)).toEqual([`${NAME_TAKEN_REASON}: /${wanted.roleName}`]);
    });

    it('deletes nothing when prune is off', () => {
      const result = planFor(
        { ...config, prune: false },
        makeDiscovery([completeScan(EU, []), completeScan(US, [])]),
        roles,
      );

      expect(deletes(result.actions)).toEqual([]);
      expect(result.pruneBlocked).toBeUndefined();
    });

    it('holds back every delete past the guard, and reports it', () => {
      // Prepare: 6 owned roles, 4 would go, at most half may.
      const guarded = { ...config, maxPruneFraction: 0.5 };

      // Act
      const result = planFor(guarded, makeDiscovery([completeScan(EU, []), before[1] as RegionScan]), roles);

      // Assess
      expect(deletes(result.actions)).toEqual([]);
      expect(result.pruneBlocked).toEqual({ wouldDelete: 4, owned: 6, maxPruneFraction: 0.5 });
      expect(kinds(result.actions)).toEqual(['no-op', 'no-op']);
    });

    it('deletes past the guard with forcePrune', () => {
      const forced = { ...config, maxPruneFraction: 0.5, forcePrune: true };

      const result = planFor(forced, makeDiscovery([completeScan(EU, []), before[1] as RegionScan]), roles);

      expect(deletes(result.actions)).toHaveLength(4);
      expect(result.pruneBlocked).toBeUndefined();
    });

    it.each([
      [0.5, 2, undefined],
      [0.25, 0, { wouldDelete: 2, owned: 6, maxPruneFraction: 0.25 }],
    ])(
      'judges the guard (fraction %f) on the roles owned once the run creates its roles, so the next run agrees',
      (fraction, deleted, blocked) => {
        // Prepare: staging (2 roles) is gone; two new clusters bring 4 roles.
        const guarded = { ...config, regions: [EU], maxPruneFraction: fraction };
        const old = rolesFor(guarded, [completeScan(EU, [staging])]);
        const discovery = makeDiscovery([completeScan(EU, [prod, makeCluster('prod-2', EU)])]);

        // Act
        const first = planFor(guarded, discovery, old);
        const after = simulatePlan({ roles: old, oidcProviderArns: [] }, first, ACCOUNT);
        const second = planFor(guarded, discovery, after.roles);

        // Assess
        expect(deletes(first.actions)).toHaveLength(deleted);
        expect(first.pruneBlocked).toEqual(blocked);
        expect(second.pruneBlocked).toEqual(blocked);
        expect(kinds(second.actions)).toEqual(Array(4).fill('no-op'));
      },
    );

    it('lets the last role go when its cluster is gone (one delete is always allowed)', () => {
      // Prepare
      const single = makeConfig({ maxPruneFraction: 0.1 });
      const last = rolesFor(single, [completeScan(EU, [prod])]);

      // Act
      const result = planFor(single, makeDiscovery([completeScan(EU, [])]), last);

      // Assess
      expect(kinds(result.actions)).toEqual(['delete']);
    });

    it.each([
      [1, 0.5, 1],
      [2, 0.5, 1],
      [3, 0.5, 1],
      [10, 0.5, 5],
      [10, 0.25, 2],
      [10, 1, 10],
    ])('allows at most %i owned × %f deletions, at least one: %i', (owned, fraction, allowed) => {
      expect(allowedDeletes(owned, fraction)).toBe(allowed);
    });

    it('leaves an owned role that lost its identity tags alone, and says so', () => {
      // Prepare
      const [role] = rolesFor(config, [completeScan(EU, [prod])]);
      if (!role) throw new Error('no role');
      delete role.tags[TAG_CLUSTER];
      const stray = { ...role, roleName: 'irsa-stray' };

      // Act
      const result = planFor(config, makeDiscovery([completeScan(EU, [])]), [stray]);

      // Assess
      expect(result.actions).toEqual([]);
      expect(result.skipped[0]?.reason).toBe(
        'owned role irsa-stray lacks its region/cluster/binding tags; left alone',
      );
    });
  });

  it('creates the missing OIDC provider before the roles that trust it, with createOidcProvider', () => {
    // Prepare
    const config = makeConfig({ createOidcProvider: true });
    const discovery = makeDiscovery([completeScan(EU, [prod])], []);

    // Act
    const result = planFor(config, discovery, []);

    // Assess
    expect(kinds(result.actions)).toEqual(['create-oidc-provider', 'create', 'put-policy']);
  });

  it('plans 2,000 roles in milliseconds', () => {
    // Prepare: 250 clusters × 8 bindings; half the roles exist, a tenth drifted, 100 orphans.
    const bindings = Array.from({ length: 8 }, (_, i) => ({ ...APP_BINDING, name: `b${i}` }));
    const config = makeConfig({ bindings, regions: [EU, US], maxPruneFraction: 1 });
    const clusters = (region: string) =>
      Array.from({ length: 125 }, (_, i) => makeCluster(`cluster-${i}`, region));
    const discovery = makeDiscovery([completeScan(EU, clusters(EU)), completeScan(US, clusters(US))]);
    const desired = desiredState(config, discovery);
    const existing = observedFrom(desired.roles.filter((_, i) => i % 2 === 0));
    for (const role of existing.filter((_, i) => i % 10 === 0)) role.tags[TAG_CLUSTER] = 'drifted';
    const orphans = rolesFor(config, [
      completeScan(
        EU,
        clusters(EU).map((c) => ({ ...c, name: `gone-${c.name}` })),
      ),
    ]).slice(0, 100);
    const observed = { roles: [...existing, ...orphans], oidcProviderArns: discovery.oidcProviderArns };

    // Act: the fastest of five runs, so a busy machine does not decide the outcome.
    let result = plan(desired, observed, discovery, config);
    let fastest = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      result = plan(desired, observed, discovery, config);
      fastest = Math.min(fastest, performance.now() - started);
    }

    // Assess
    expect(desired.roles).toHaveLength(2000);
    expect(deletes(result.actions)).toHaveLength(100);
    expect(roleNamesIn(result.actions).size).toBe(2100);
    // ~10–25 ms on an idle machine; the bound leaves room for a loaded CI runner.
    expect(fastest).toBeLessThan(200);
  });
});

describe('teardownPlan', () => {
  it('deletes every owned role and nothing else', () => {
    // Prepare
    const config = makeConfig();
    const owned = rolesFor(config, [completeScan(EU, [prod, staging])]);
    const others = [
      foreignRole('unrelated'),
      {
        ...(owned[0] as ObservedRole),
        roleName: 'other-stage',
        tags: { [TAG_MANAGED_BY]: 'irsa-reconciler', [TAG_STAGE]: 'prod' },
      },
    ];

    // Act
    const result = teardownPlan({ roles: [...owned, ...others], oidcProviderArns: [] }, config);

    // Assess
    expect(result.actions).toEqual(
      owned.map((r) => ({
        kind: 'delete',
        roleName: r.roleName,
        reason: 'teardown: the deployment is being removed',
      })),
    );
  });
});
