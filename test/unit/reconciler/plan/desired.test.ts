import fc from 'fast-check';
import { BUILTIN_TEMPLATES } from '../../../../lib/reconciler/config/catalog';
import { compileGlobs } from '../../../../lib/reconciler/config/glob';
import { roleNameFor } from '../../../../lib/reconciler/config/naming';
import {
  TAG_BINDING,
  TAG_CLUSTER,
  TAG_MANAGED_BY,
  TAG_MANAGED_BY_VALUE,
  TAG_REGION,
  TAG_STAGE,
} from '../../../../lib/reconciler/ownership';
import { desiredState } from '../../../../lib/reconciler/plan/desired';
import type { DesiredIrsaRole, DesiredState } from '../../../../lib/reconciler/types';
import {
  APP_BINDING,
  completeScan,
  issuerFor,
  makeCluster,
  makeConfig,
  makeDiscovery,
  providerArnOf,
  STAGE,
  unknownScan,
  WORKER_BINDING,
} from '../support';

function irsaRoles(desired: DesiredState): DesiredIrsaRole[] {
  return desired.roles.filter((role): role is DesiredIrsaRole => role.mode === 'irsa');
}

describe('desiredState', () => {
  it('wants one role per cluster and binding, in every region', () => {
    // Prepare
    const config = makeConfig({
      regions: ['eu-west-1', 'us-east-1'],
      bindings: [APP_BINDING, WORKER_BINDING],
    });
    const discovery = makeDiscovery([
      completeScan('eu-west-1', [makeCluster('prod', 'eu-west-1'), makeCluster('staging', 'eu-west-1')]),
      completeScan('us-east-1', [makeCluster('prod', 'us-east-1')]),
    ]);

    // Act
    const desired = desiredState(config, discovery);

    // Assess
    expect(irsaRoles(desired).map((r) => [r.region, r.clusterName, r.bindingName])).toEqual([
      ['eu-west-1', 'prod', 'app'],
      ['eu-west-1', 'prod', 'worker'],
      ['eu-west-1', 'staging', 'app'],
      ['eu-west-1', 'staging', 'worker'],
      ['us-east-1', 'prod', 'app'],
      ['us-east-1', 'prod', 'worker'],
    ]);
    expect(new Set(desired.roles.map((r) => r.roleName)).size).toBe(6);
    expect(desired.skipped).toEqual([]);
    expect(desired.oidcProviders).toEqual([]);
  });

  it('describes a role completely: name, path, trust, policies, tags and boundary', () => {
    // Prepare
    const boundary = 'arn:aws:iam::123456789012:policy/boundary';
    const config = makeConfig({ tags: { team: 'payments' }, permissionsBoundaryArn: boundary });
    const cluster = makeCluster('prod', 'eu-west-1');

    // Act
    const [role] = desiredState(config, makeDiscovery([completeScan('eu-west-1', [cluster])])).roles;

    // Assess
    expect(role).toMatchObject({
      roleName: roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', STAGE),
      path: '/irsa-reconciler/dev/',
      oidcProviderArn: providerArnOf(cluster),
      permissionsBoundaryArn: boundary,
      tags: {
        team: 'payments',
        [TAG_MANAGED_BY]: TAG_MANAGED_BY_VALUE,
        [TAG_STAGE]: STAGE,
        [TAG_REGION]: 'eu-west-1',
        [TAG_CLUSTER]: 'prod',
        [TAG_BINDING]: 'app',
      },
    });
    expect(role?.trustPolicy.Statement[0]?.Principal).toEqual({ Federated: providerArnOf(cluster) });
    expect(Object.keys(role?.inlinePolicies ?? {})).toEqual(['s3-prefix-access']);
    expect(JSON.stringify(role?.inlinePolicies)).toContain(
      'arn:aws:s3:::acme-data/payments/eu-west-1/prod/*',
    );
    expect(role?.description).toContain('system:serviceaccount:payments:payments-api');
  });

  it.each([
    ['CREATING', /cluster status is CREATING/],
    ['FAILED', /cluster status is FAILED/],
    ['DELETING', /cluster status is DELETING/],
    ['PENDING', /cluster status is PENDING/],
  ])('makes no role for a %s cluster and says why', (status, reason) => {
    // Act
    const desired = desiredState(
      makeConfig(),
      makeDiscovery([completeScan('eu-west-1', [makeCluster('c', 'eu-west-1', { status })])]),
    );

    // Assess
    expect(desired.roles).toEqual([]);
    expect(desired.skipped).toEqual([
      { region: 'eu-west-1', clusterName: 'c', reason: expect.stringMatching(reason) },
    ]);
  });

  it('keeps reconciling an UPDATING cluster', () => {
    const discovery = makeDiscovery([
      completeScan('eu-west-1', [makeCluster('c', 'eu-west-1', { status: 'UPDATING' })]),
    ]);

    expect(desiredState(makeConfig(), discovery).roles).toHaveLength(1);
  });

  it('skips a cluster without an OIDC issuer', () => {
    // Prepare
    const { oidcIssuer: _none, ...cluster } = makeCluster('legacy', 'eu-west-1');

    // Act
    const desired = desiredState(makeConfig(), makeDiscovery([completeScan('eu-west-1', [cluster])]));

    // Assess
    expect(desired.roles).toEqual([]);
    expect(desired.skipped).toEqual([
      { region: 'eu-west-1', clusterName: 'legacy', reason: 'cluster has no OIDC issuer' },
    ]);
  });

  it('skips a cluster whose IAM OIDC provider does not exist, naming the provider', () => {
    // Prepare
    const cluster = makeCluster('prod', 'eu-west-1');

    // Act
    const desired = desiredState(makeConfig(), makeDiscovery([completeScan('eu-west-1', [cluster])], []));

    // Assess
    expect(desired.roles).toEqual([]);
    expect(desired.oidcProviders).toEqual([]);
    expect(desired.skipped[0]?.reason).toContain(`no IAM OIDC provider ${providerArnOf(cluster)}`);
  });

  it('with createOidcProvider, wants the provider once per issuer and the roles', () => {
    // Prepare: like moto, two clusters share one issuer.
    const issuer = issuerFor('eu-west-1', 'SHARED');
    const clusters = [
      makeCluster('a', 'eu-west-1', { oidcIssuer: issuer }),
      makeCluster('b', 'eu-west-1', { oidcIssuer: issuer }),
    ];

    // Act
    const desired = desiredState(
      makeConfig({ createOidcProvider: true }),
      makeDiscovery([completeScan('eu-west-1', clusters)], []),
    );

    // Assess
    expect(desired.oidcProviders).toEqual([
      {
        region: 'eu-west-1',
        clusterName: 'a',
        issuerUrl: issuer,
        arn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/SHARED',
      },
    ]);
    expect(desired.roles).toHaveLength(2);
  });

  it('selects clusters by include and exclude globs and honours the opt-out tag', () => {
    // Prepare
    const config = makeConfig({ clusters: { include: ['prod-*', 'stg-?'], exclude: ['*-sandbox'] } });
    const names = ['prod-eu', 'prod-sandbox', 'stg-1', 'stg-10', 'dev', 'prod-optout'];
    const clusters = names.map((name) =>
      makeCluster(
        name,
        'eu-west-1',
        name === 'prod-optout' ? { tags: { 'irsa-reconciler/opt-out': 'TRUE' } } : {},
      ),
    );

    // Act
    const desired = desiredState(config, makeDiscovery([completeScan('eu-west-1', clusters)]));

    // Assess
    expect(irsaRoles(desired).map((r) => r.clusterName)).toEqual(['prod-eu', 'stg-1']);
    expect(Object.fromEntries(desired.skipped.map((s) => [s.clusterName, s.reason]))).toEqual({
      'prod-sandbox': 'not selected by clusters.include/exclude',
      'stg-10': 'not selected by clusters.include/exclude',
      dev: 'not selected by clusters.include/exclude',
      'prod-optout': 'opted out by tag irsa-reconciler/opt-out=true',
    });
  });

  it('selects by the opt-in tag alone, or by name and tag together when both are given', () => {
    // Prepare
    const tagged = (name: string) =>
      makeCluster(name, 'eu-west-1', { tags: { 'irsa-reconciler/opt-in': 'TRUE' } });
    const discovery = makeDiscovery([
      completeScan('eu-west-1', [tagged('prod-a'), tagged('dev-b'), makeCluster('prod-c', 'eu-west-1')]),
    ]);
    const byTag = makeConfig({ clusters: { optInTagKey: 'irsa-reconciler/opt-in' } });
    const byBoth = makeConfig({ clusters: { include: ['prod-*'], optInTagKey: 'irsa-reconciler/opt-in' } });

    // Act
    const tagOnly = desiredState(byTag, discovery);
    const both = desiredState(byBoth, discovery);

    // Assess
    expect(irsaRoles(tagOnly).map((role) => role.clusterName)).toEqual(['prod-a', 'dev-b']);
    expect(tagOnly.skipped).toEqual([
      {
        region: 'eu-west-1',
        clusterName: 'prod-c',
        reason: 'not opted in: no tag irsa-reconciler/opt-in=true',
      },
    ]);
    expect(irsaRoles(both).map((role) => role.clusterName)).toEqual(['prod-a']);
    expect(both.skipped.map((skip) => skip.clusterName)).toEqual(['dev-b', 'prod-c']);
  });

  it('refuses a cluster whose name EKS would not allow, naming it, before rendering anything', () => {
    // Prepare
    const config = makeConfig({ clusters: { include: ['*'] } });
    const hostile = makeCluster('prod', 'eu-west-1', { name: 'prod/../*' });
    const discovery = makeDiscovery([completeScan('eu-west-1', [hostile, makeCluster('ok', 'eu-west-1')])]);

    // Act
    const desired = desiredState(config, discovery);

    // Assess
    expect(irsaRoles(desired).map((role) => role.clusterName)).toEqual(['ok']);
    expect(desired.skipped).toEqual([
      {
        region: 'eu-west-1',
        clusterName: 'prod/../*',
        reason: expect.stringContaining('cluster name "prod/../*" is not a valid EKS cluster name'),
      },
    ]);
  });

  it('gives two clusters of one name in two regions S3 prefixes of their own', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9A-Za-z][A-Za-z0-9_-]{0,30}$/),
        fc.constantFrom('eu-west-1', 'us-east-1', 'ap-southeast-2'),
        fc.constantFrom('eu-central-1', 'us-west-2'),
        (name, first, second) => {
          // Prepare
          const config = makeConfig({ regions: [first, second] });
          const discovery = makeDiscovery([
            completeScan(first, [makeCluster(name, first)]),
            completeScan(second, [makeCluster(name, second)]),
          ]);

          // Act
          const [a, b] = desiredState(config, discovery).roles.map(
            (role) => role.inlinePolicies['s3-prefix-access']?.Statement[1]?.Resource,
          );

          // Assess
          expect(a).toBe(`arn:aws:s3:::acme-data/payments/${first}/${name}/*`);
          expect(b).toBe(`arn:aws:s3:::acme-data/payments/${second}/${name}/*`);
        },
      ),
    );
  });

  it('still reconciles the clusters an unknown region did list', () => {
    const discovery = makeDiscovery([unknownScan('eu-west-1', [makeCluster('prod', 'eu-west-1')])]);

    expect(desiredState(makeConfig(), discovery).roles).toHaveLength(1);
  });

  it('skips one binding whose policies do not fit a cluster, keeping the other bindings', () => {
    // Prepare: the parser refuses this binding (it checks the worst case); a hand-built config gets past it.
    const prefixes = Array.from({ length: 100 }, (_, i) => `p${i}/${'x'.repeat(60)}`);
    const heavy = {
      ...WORKER_BINDING,
      policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: prefixes } }],
    };
    const config = { ...makeConfig(), bindings: [...makeConfig().bindings, heavy] };
    const cluster = makeCluster('c'.repeat(100), 'eu-west-1');

    // Act
    const desired = desiredState(config, makeDiscovery([completeScan('eu-west-1', [cluster])]));

    // Assess
    expect(desired.roles.map((r) => r.bindingName)).toEqual(['app']);
    expect(desired.skipped).toEqual([
      {
        region: 'eu-west-1',
        clusterName: cluster.name,
        bindingName: 'worker',
        reason: expect.stringMatching(
          /^binding "worker": inline policies total \d+ characters, over IAM's limit of 10240/,
        ),
      },
    ]);
  });
});

describe('compileGlobs', () => {
  it.each([
    ['prod-*', 'prod-eu', true],
    ['prod-*', 'preprod-eu', false],
    ['*-eu', 'prod-eu', true],
    ['c?', 'c1', true],
    ['c?', 'c12', false],
    ['a_b', 'a_b', true],
    ['*', '', true],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(compileGlobs([glob])(name)).toBe(expected);
  });

  it('treats regular expression characters literally', () => {
    expect(compileGlobs(['a.b'])('axb')).toBe(false);
  });
});

describe('desiredState for pod-identity bindings', () => {
  const podApp = { ...APP_BINDING, mode: 'pod-identity' as const };

  it('wants one role for the fleet and one association per selected cluster, with or without an OIDC provider', () => {
    // Prepare: staging has no IAM OIDC provider (IRSA would skip it; Pod Identity needs none)
    const config = makeConfig({ regions: ['eu-west-1', 'us-east-1'], bindings: [podApp, WORKER_BINDING] });
    const prod = makeCluster('prod', 'eu-west-1');
    const staging = makeCluster('staging', 'us-east-1');
    const discovery = makeDiscovery(
      [completeScan('eu-west-1', [prod]), completeScan('us-east-1', [staging])],
      [providerArnOf(prod)],
    );

    // Act
    const desired = desiredState(config, discovery);

    // Assess
    const pod = desired.roles.filter((role) => role.mode === 'pod-identity');
    expect(pod).toHaveLength(1);
    expect(pod[0]).toMatchObject({
      roleName: expect.stringMatching(/^irsa-pi-app-[0-9a-f]{10}$/),
      arn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\/irsa-reconciler\/dev\/irsa-pi-app-/),
      tags: {
        [TAG_MANAGED_BY]: TAG_MANAGED_BY_VALUE,
        [TAG_STAGE]: STAGE,
        [TAG_BINDING]: 'app',
        'irsa-reconciler/mode': 'pod-identity',
      },
    });
    expect(pod[0]?.tags[TAG_REGION]).toBeUndefined();
    expect(irsaRoles(desired).map((role) => [role.clusterName, role.bindingName])).toEqual([
      ['prod', 'worker'],
    ]);
    expect(
      desired.associations.map((item) => [
        item.region,
        item.clusterName,
        item.namespace,
        item.serviceAccount,
      ]),
    ).toEqual([
      ['eu-west-1', 'prod', 'payments', 'payments-api'],
      ['us-east-1', 'staging', 'payments', 'payments-api'],
    ]);
    expect(desired.associations.every((item) => item.roleArn === pod[0]?.arn)).toBe(true);
    expect(desired.skipped).toEqual([
      expect.objectContaining({
        clusterName: 'staging',
        reason: expect.stringContaining('no IAM OIDC provider'),
      }),
    ]);
  });

  it('pins the trust to the selected clusters only', () => {
    const config = makeConfig({ bindings: [podApp], clusters: { include: ['prod-*'] } });
    const discovery = makeDiscovery([
      completeScan('eu-west-1', [makeCluster('prod-a', 'eu-west-1'), makeCluster('dev-b', 'eu-west-1')]),
    ]);
    const [role] = desiredState(config, discovery).roles;
    const condition = role?.trustPolicy.Statement[0]?.Condition as Record<string, Record<string, unknown>>;
    expect(condition.StringEquals?.['aws:RequestTag/eks-cluster-arn']).toEqual([
      'arn:aws:eks:eu-west-1:123456789012:cluster/prod-a',
    ]);
  });

  it("keeps a single-cluster run's pins: adds its cluster to those given, and never pins a role that is unpinned", () => {
    // Prepare: one cluster discovered, as a single-cluster run sees the fleet
    const config = makeConfig({ bindings: [podApp] });
    const discovery = makeDiscovery([completeScan('eu-west-1', [makeCluster('prod-a', 'eu-west-1')])]);
    const other = 'arn:aws:eks:us-east-1:123456789012:cluster/prod-z';
    const pinOf = (pins: Map<string, string[] | 'unpinned'>) => {
      const [role] = desiredState(config, discovery, BUILTIN_TEMPLATES, pins).roles;
      const condition = role?.trustPolicy.Statement[0]?.Condition as Record<string, Record<string, unknown>>;
      return {
        arns: condition.StringEquals?.['aws:RequestTag/eks-cluster-arn'],
        description: role?.description,
      };
    };

    // Act
    const widened = pinOf(new Map([['app', [other]]]));
    const unpinned = pinOf(new Map([['app', 'unpinned']]));

    // Assess
    expect(widened.arns).toEqual(['arn:aws:eks:eu-west-1:123456789012:cluster/prod-a', other]);
    expect(widened.description).toContain('pinned to 2 selected clusters');
    expect(unpinned.arns).toBeUndefined();
    expect(unpinned.description).toContain('not pinned');
  });
});
