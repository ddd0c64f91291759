import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, TemplateError } from '../../../../lib/errors';
import { parseReconcilerConfig } from '../../../../lib/reconciler/config/schema';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'fixtures', 'config');
const CONTEXT = { stage: 'prod', deploymentRegion: 'eu-west-1' };

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
}

function configError(raw: unknown, context = CONTEXT): ConfigError {
  try {
    parseReconcilerConfig(raw, context);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, the configuration was accepted');
}

/** The minimal fixture with one change made by `edit`. */
function minimalWith(edit: (raw: Record<string, unknown> & { bindings: Record<string, unknown>[] }) => void) {
  const raw = structuredClone(fixture('minimal.json')) as Record<string, unknown> & {
    bindings: Record<string, unknown>[];
  };
  edit(raw);
  return raw;
}

const APP = fixture('minimal.json').bindings;
/** The keys every configuration must give: an explicit cluster selection and the boundary. */
const REQUIRED = {
  clusters: fixture('minimal.json').clusters,
  permissionsBoundaryArn: fixture('minimal.json').permissionsBoundaryArn,
};

describe('parseReconcilerConfig', () => {
  it('fills every default for a minimal configuration', () => {
    // Act
    const config = parseReconcilerConfig(fixture('minimal.json'), {
      stage: 'uat',
      deploymentRegion: 'us-east-2',
    });

    // Assess
    expect(config).toEqual({
      stage: 'uat',
      deploymentRegion: 'us-east-2',
      regions: ['us-east-2'],
      clusters: { include: ['app-*'], exclude: [], optOutTagKey: 'irsa-reconciler/opt-out' },
      bindings: [
        {
          name: 'app',
          namespace: 'default',
          serviceAccount: 'app',
          policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: ['app/'] } }],
          mode: 'irsa',
        },
      ],
      rolePath: '/irsa-reconciler/uat/',
      roleNamePrefix: 'irsa-',
      tags: {},
      prune: true,
      maxPruneFraction: 0.5,
      forcePrune: false,
      allowForcePruneOnInvoke: false,
      detachUnmanagedPolicies: false,
      dryRun: false,
      createOidcProvider: false,
      podIdentity: { installAgent: false, verifyEveryRuns: 1 },
      publishRoleArns: false,
      concurrency: 8,
      permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/irsa-reconciler/workload-boundary',
    });
  });

  it('keeps every field of a full configuration', () => {
    // Prepare
    const raw = fixture('full.json');

    // Act
    const config = parseReconcilerConfig(raw, CONTEXT);

    // Assess
    expect(config).toEqual({ ...raw, stage: 'prod', deploymentRegion: 'eu-west-1' });
  });

  it("gives every parse its own default objects, so one caller can not change another one's config", () => {
    // Act
    const first = parseReconcilerConfig(fixture('minimal.json'), CONTEXT);
    first.clusters.include.push('mutated');
    first.tags.mutated = 'yes';
    const second = parseReconcilerConfig(fixture('minimal.json'), CONTEXT);

    // Assess
    expect(second.clusters.include).toEqual(['app-*']);
    expect(second.tags).toEqual({});
  });

  it('defaults params to none and policies to an empty list', () => {
    // Act
    const config = parseReconcilerConfig(
      { ...REQUIRED, bindings: [{ name: 'bare', namespace: 'ns', serviceAccount: 'sa' }] },
      CONTEXT,
    );

    // Assess
    expect(config.bindings).toEqual([
      { name: 'bare', namespace: 'ns', serviceAccount: 'sa', policies: [], mode: 'irsa' },
    ]);
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', null, /^\(config\): /],
    ['missing bindings', {}, /^bindings: is required/],
    ['a typo at the top level', { ...REQUIRED, bindings: APP, prnue: false }, /^prnue: unknown field/],
    [
      'a typo in clusters',
      { ...REQUIRED, bindings: APP, clusters: { incldue: ['a'] } },
      /^clusters\.incldue: unknown field/,
    ],
    [
      'a bad region',
      { ...REQUIRED, bindings: APP, regions: ['eu-west-1', 'mars-north-1a'] },
      /^regions\[1\]: not an AWS region/,
    ],
    ['no region', { ...REQUIRED, bindings: APP, regions: [] }, /^regions: list at least one region/],
    [
      'a region twice',
      { ...REQUIRED, bindings: APP, regions: ['eu-west-1', 'eu-west-1'] },
      /^regions\[1\]: "eu-west-1" is listed twice/,
    ],
    [
      'a region of another partition',
      { ...REQUIRED, bindings: APP, regions: ['eu-west-1', 'cn-north-1'] },
      /^regions\[1\]: "cn-north-1" is not in partition aws/,
    ],
    [
      'a glob with a slash',
      { ...REQUIRED, bindings: APP, clusters: { exclude: ['prod/*'] } },
      /^clusters\.exclude\[0\]: /,
    ],
    [
      'an invalid namespace',
      minimalWith((raw) => raw.bindings.push({ name: 'b', namespace: 'Payments', serviceAccount: 'sa' })),
      /^bindings\[1\]\.namespace: a Kubernetes namespace/,
    ],
    [
      'an invalid ServiceAccount',
      minimalWith((raw) => Object.assign(raw.bindings[0] ?? {}, { serviceAccount: 'my_sa' })),
      /^bindings\[0\]\.serviceAccount: /,
    ],
    [
      'an upper-case binding name',
      minimalWith((raw) => Object.assign(raw.bindings[0] ?? {}, { name: 'App' })),
      /^bindings\[0\]\.name: /,
    ],
    [
      'a binding name used twice',
      minimalWith((raw) => raw.bindings.push({ name: 'app', namespace: 'other', serviceAccount: 'sa' })),
      /^bindings\[1\]\.name: "app" is already used by bindings\[0\]/,
    ],
    [
      'a typo in a policy binding',
      minimalWith((raw) =>
        raw.bindings.push({ name: 'b', namespace: 'n', serviceAccount: 's', policies: [{ tempalte: 'x' }] }),
      ),
      /bindings\[1\]\.policies\[0\]\.tempalte: unknown field/,
    ],
    ['a relative role path', { ...REQUIRED, bindings: APP, rolePath: 'irsa/' }, /^rolePath: an IAM path/],
    ['the root role path', { ...REQUIRED, bindings: APP, rolePath: '/' }, /^rolePath: must not be "\/"/],
    [
      'a long role name prefix',
      { ...REQUIRED, bindings: APP, roleNamePrefix: 'p'.repeat(25) },
      /^roleNamePrefix: at most 24/,
    ],
    [
      'a role name prefix with a slash',
      { ...REQUIRED, bindings: APP, roleNamePrefix: 'a/b' },
      /^roleNamePrefix: IAM role name/,
    ],
    [
      'a boundary that is not a policy ARN',
      { ...REQUIRED, bindings: APP, permissionsBoundaryArn: 'arn:aws:iam::123456789012:role/x' },
      /^permissionsBoundaryArn: an IAM managed policy ARN/,
    ],
    [
      'a boundary of another partition',
      { ...REQUIRED, bindings: APP, permissionsBoundaryArn: 'arn:aws-cn:iam::123456789012:policy/b' },
      /^permissionsBoundaryArn: partition aws-cn does not match aws/,
    ],
    [
      'a tag overriding an ownership tag',
      { ...REQUIRED, bindings: APP, tags: { 'irsa-reconciler/stage': 'prod' } },
      /^tags\.irsa-reconciler\/stage: keys starting with "irsa-reconciler\/" are the reconciler's ownership tags/,
    ],
    [
      'an ownership tag in another case',
      { ...REQUIRED, bindings: APP, tags: { 'IRSA-Reconciler/Managed-By': 'me' } },
      /^tags\.IRSA-Reconciler\/Managed-By: keys starting with "irsa-reconciler\/"/,
    ],
    [
      'an aws: tag',
      { ...REQUIRED, bindings: APP, tags: { 'aws:owner': 'x' } },
      /^tags\.aws:owner: keys starting with "aws:"/,
    ],
    [
      'a tag value too long',
      { ...REQUIRED, bindings: APP, tags: { team: 'x'.repeat(257) } },
      /^tags\.team: at most 256/,
    ],
    [
      'a tag key too long',
      { ...REQUIRED, bindings: APP, tags: { ['k'.repeat(129)]: 'v' } },
      /^tags\.k+: at most 128/,
    ],
    [
      'two tag keys differing in case only',
      { ...REQUIRED, bindings: APP, tags: { Team: 'a', team: 'b' } },
      /^tags\.team: same key as "Team"/,
    ],
    [
      'too many tags',
      {
        ...REQUIRED,
        bindings: APP,
        tags: Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`t${i}`, 'v'])),
      },
      /^tags: at most 45 tags/,
    ],
    [
      'a zero prune fraction',
      { ...REQUIRED, bindings: APP, maxPruneFraction: 0 },
      /^maxPruneFraction: must be greater than 0/,
    ],
    [
      'a prune fraction over 1',
      { ...REQUIRED, bindings: APP, maxPruneFraction: 1.5 },
      /^maxPruneFraction: must be at most 1/,
    ],
    [
      'a prune fraction as text',
      { ...REQUIRED, bindings: APP, maxPruneFraction: '0.5' },
      /^maxPruneFraction: /,
    ],
    [
      'prune as text',
      { ...REQUIRED, bindings: APP, prune: 'yes' },
      /^prune: Invalid input: expected boolean/,
    ],
    [
      'a fractional concurrency',
      { ...REQUIRED, bindings: APP, concurrency: 2.5 },
      /^concurrency: must be a whole number/,
    ],
    ['a zero concurrency', { ...REQUIRED, bindings: APP, concurrency: 0 }, /^concurrency: /],
  ])('rejects %s, naming the field', (_case, raw, message) => {
    expect(configError(raw).message).toMatch(message);
  });

  it('lists every problem at once', () => {
    // Act
    const error = configError({
      ...REQUIRED,
      bindings: APP,
      regions: ['nowhere'],
      concurrency: -1,
      extra: 1,
    });

    // Assess
    expect(error.message.split('\n').sort()).toEqual([
      expect.stringMatching(/^concurrency: /),
      expect.stringMatching(/^extra: unknown field/),
      expect.stringMatching(/^regions\[0\]: /),
    ]);
  });

  it.each([
    [{ stage: 'prod/x', deploymentRegion: 'eu-west-1' }, /^stage: /],
    [{ stage: 'prod', deploymentRegion: 'europe' }, /^deploymentRegion: /],
    [
      { stage: 'prod', deploymentRegion: 'us-iso-east-1' },
      /^deploymentRegion: .* partition the reconciler does not support/,
    ],
  ])('rejects a bad deployment context %o', (context, message) => {
    expect(configError(fixture('minimal.json'), context).message).toMatch(message);
  });

  describe('policy templates', () => {
    it('names the binding, policy, template and parameter of a missing parameter', () => {
      // Prepare
      const raw = minimalWith((raw) =>
        raw.bindings.push({
          name: 'reports',
          namespace: 'reports',
          serviceAccount: 'writer',
          policies: [{ template: 's3-prefix-access', params: { BucketName: 'acme-reports' } }],
        }),
      );

      // Act
      const error = configError(raw);

      // Assess
      expect(error).toBeInstanceOf(TemplateError);
      expect(error.message).toBe(
        'bindings[1].policies[0]: template "s3-prefix-access" (binding "reports"): parameter "Prefix" is required',
      );
    });

    it('rejects a template that does not exist', () => {
      const raw = minimalWith((raw) =>
        Object.assign(raw.bindings[0] ?? {}, { policies: [{ template: 'ec2-admin' }] }),
      );

      expect(configError(raw).message).toMatch(
        /^bindings\[0\]\.policies\[0\]: template "ec2-admin" .*no such template/,
      );
    });

    it('rejects a binding whose policies exceed the IAM inline size for a 100-character cluster name', () => {
      // Prepare: each prefix grows by the cluster-name-free ARN; 120 prefixes of ~90 characters.
      const prefixes = Array.from(
        { length: 120 },
        (_, i) => `team-${String(i).padStart(3, '0')}/${'s'.repeat(20)}`,
      );
      const raw = minimalWith((raw) =>
        Object.assign(raw.bindings[0] ?? {}, {
          policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: prefixes } }],
        }),
      );

      // Act
      const error = configError(raw);

      // Assess
      expect(error).toBeInstanceOf(TemplateError);
      expect(error.message).toMatch(
        /^bindings\[0\]\.policies: binding "app" renders \d+ characters .* over IAM's limit of 10240/,
      );
    });

    it('accepts the same template twice in one binding (two buckets)', () => {
      // Prepare
      const raw = minimalWith((raw) =>
        Object.assign(raw.bindings[0] ?? {}, {
          policies: [
            { template: 's3-prefix-access', params: { BucketName: 'bucket-one', Prefix: 'a' } },
            { template: 's3-prefix-access', params: { BucketName: 'bucket-two', Prefix: 'b' } },
          ],
        }),
      );

      // Act + Assess
      expect(parseReconcilerConfig(raw, CONTEXT).bindings[0]?.policies).toHaveLength(2);
    });
  });
});

describe('parseReconcilerConfig: what a deployment must say explicitly', () => {
  it('refuses a configuration that selects no cluster, saying why selection matters', () => {
    const error = configError({ bindings: APP, permissionsBoundaryArn: REQUIRED.permissionsBoundaryArn });

    expect(error.message).toMatch(/^clusters: select clusters explicitly/);
    expect(error.message).toContain("receives every binding's role");
  });

  it('accepts an opt-in tag as the only selection', () => {
    const config = parseReconcilerConfig(
      { ...REQUIRED, clusters: { optInTagKey: 'irsa-reconciler/opt-in' }, bindings: APP },
      CONTEXT,
    );

    expect(config.clusters).toEqual({
      include: [],
      exclude: [],
      optInTagKey: 'irsa-reconciler/opt-in',
      optOutTagKey: 'irsa-reconciler/opt-out',
    });
  });

  it('refuses an opt-in tag that is also the opt-out tag', () => {
    const error = configError({
      ...REQUIRED,
      clusters: { optInTagKey: 'Irsa-Reconciler/Opt-Out' },
      bindings: APP,
    });

    expect(error.message).toContain(
      'clusters.optInTagKey: "Irsa-Reconciler/Opt-Out" is also the opt-out tag key',
    );
  });

  it('refuses a configuration without a permissions boundary', () => {
    const error = configError({ clusters: REQUIRED.clusters, bindings: APP });

    expect(error.message).toBe('permissionsBoundaryArn: is required');
  });
});

describe('access modes', () => {
  it('gives each binding the stage default unless it names its own mode', () => {
    // Prepare
    const raw = minimalWith((config) => {
      config.defaultMode = 'pod-identity';
      config.bindings.push({ name: 'legacy', namespace: 'old', serviceAccount: 'agent', mode: 'irsa' });
    });

    // Act
    const config = parseReconcilerConfig(raw, CONTEXT);

    // Assess
    expect(config.bindings.map((binding) => [binding.name, binding.mode])).toEqual([
      ['app', 'pod-identity'],
      ['legacy', 'irsa'],
    ]);
  });

  it.each([
    [
      'an unknown mode',
      (raw: Record<string, unknown> & { bindings: Record<string, unknown>[] }) =>
        Object.assign(raw.bindings[0] ?? {}, { mode: 'oidc' }),
      /bindings\[0\]\.mode: .*"irsa".*"pod-identity"/,
    ],
    [
      'a verification period of 0 runs',
      (raw: Record<string, unknown>) => Object.assign(raw, { podIdentity: { verifyEveryRuns: 0 } }),
      /podIdentity.verifyEveryRuns: must be at least 1 \(every run\)/,
    ],
    [
      'an unknown podIdentity key',
      (raw: Record<string, unknown>) => Object.assign(raw, { podIdentity: { installAgents: true } }),
      /podIdentity.installAgents: unknown field/,
    ],
    [
      'two pod-identity bindings for one ServiceAccount',
      (raw: Record<string, unknown> & { bindings: Record<string, unknown>[] }) => {
        raw.defaultMode = 'pod-identity';
        raw.bindings.push({ name: 'twin', namespace: 'default', serviceAccount: 'app' });
      },
      /bindings\[1\]: pod-identity binding for default\/app duplicates bindings\[0\] \(EKS allows one association per namespace and ServiceAccount\)/,
    ],
  ])('refuses %s, naming the field', (_, edit, message) => {
    expect(configError(minimalWith(edit)).message).toMatch(message);
  });

  it('refuses a pod-identity binding whose policies do not fit one role over every region', () => {
    // Prepare: 60 secret prefixes, each written once per region in pod-identity mode
    const prefixes = Array.from({ length: 60 }, (_, n) => `team-${n}/service/`);
    const raw = minimalWith((config) => {
      config.regions = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2'];
      Object.assign(config.bindings[0] ?? {}, {
        mode: 'pod-identity',
        policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: prefixes } }],
      });
    });

    // Act
    const error = (() => {
      try {
        parseReconcilerConfig(raw, CONTEXT);
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected a TemplateError');
    })();

    // Assess
    expect(error).toBeInstanceOf(TemplateError);
    expect(error.message).toMatch(
      /in pod-identity mode over 4 regions .* over IAM's limit of 10240 per role/,
    );
  });
});
