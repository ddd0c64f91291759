import fc from 'fast-check';
import {
  IAM_NAME_PATTERN,
  inlinePolicyName,
  isValidClusterName,
  ROLE_NAME_MAX_LENGTH,
  roleNameFor,
} from '../../../../lib/reconciler/config/naming';

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2', 'us-gov-west-1'];

describe('roleNameFor', () => {
  it('keeps short names readable: prefix, cluster, binding and a hash', () => {
    // Act
    const name = roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', 'dev');

    // Assess
    expect(name).toMatch(/^irsa-prod-app-[0-9a-f]{10}$/);
  });

  it('is deterministic', () => {
    expect(roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', 'dev')).toBe(
      roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', 'dev'),
    );
  });

  it('stays within 64 IAM-valid characters for 100-character cluster names and long prefixes', () => {
    // Prepare
    const cluster = `c${'a-b_c'.repeat(20)}`.slice(0, 100);
    const prefixes = ['', 'irsa-', 'x'.repeat(24)];

    for (const prefix of prefixes) {
      // Act
      const name = roleNameFor(prefix, 'ap-southeast-2', cluster, 'a'.repeat(32), 'prod');

      // Assess
      expect(name.length).toBeLessThanOrEqual(ROLE_NAME_MAX_LENGTH);
      expect(name).toMatch(IAM_NAME_PATTERN);
      expect(name.startsWith(`${prefix}c`)).toBe(true);
      expect(name).not.toMatch(/--/);
    }
  });

  it('gives distinct names to long cluster names that differ only after the cut, in every region', () => {
    // Prepare
    const base = 'platform-shared-services-cluster-'.padEnd(96, 'x');
    const clusters = ['0001', '0002', '0003'].map((suffix) => `${base}${suffix}`);

    // Act
    const names = REGIONS.flatMap((region) =>
      clusters.flatMap((cluster) =>
        ['app', 'worker'].map((binding) => roleNameFor('irsa-', region, cluster, binding)),
      ),
    );

    // Assess
    expect(new Set(names).size).toBe(REGIONS.length * clusters.length * 2);
  });

  it('tells apart the same cluster name in two regions (IAM names are global)', () => {
    expect(roleNameFor('irsa-', 'eu-west-1', 'prod', 'app')).not.toBe(
      roleNameFor('irsa-', 'us-east-1', 'prod', 'app'),
    );
  });

  it('tells apart identities whose joined text is the same', () => {
    // "a-b" + "c" and "a" + "b-c" read alike once joined with '-'.
    expect(roleNameFor('irsa-', 'eu-west-1', 'a-b', 'c')).not.toBe(
      roleNameFor('irsa-', 'eu-west-1', 'a', 'b-c'),
    );
  });

  it('tells apart two stages sharing an account and a prefix', () => {
    expect(roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', 'uat')).not.toBe(
      roleNameFor('irsa-', 'eu-west-1', 'prod', 'app', 'prod'),
    );
  });

  it('has no two equal names among a thousand clusters × regions × bindings', () => {
    // Prepare
    const names = new Set<string>();
    let count = 0;

    // Act
    for (const region of REGIONS) {
      for (let i = 0; i < 125; i++) {
        for (const binding of ['app', 'worker']) {
          names.add(roleNameFor('irsa-', region, `cluster-${i}-${'z'.repeat(90)}`, binding));
          count++;
        }
      }
    }

    // Assess
    expect(names.size).toBe(count);
  });

  it('refuses a prefix that leaves no room', () => {
    expect(() => roleNameFor('p'.repeat(40), 'eu-west-1', 'prod', 'app')).toThrow(/no room/);
  });
});

describe('inlinePolicyName', () => {
  it('names the first use of a template after it and numbers the next ones', () => {
    expect(inlinePolicyName('s3-prefix-access', 1)).toBe('s3-prefix-access');
    expect(inlinePolicyName('s3-prefix-access', 2)).toBe('s3-prefix-access-2');
  });
});

describe('roleNameFor (properties)', () => {
  const clusterName = fc.stringMatching(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/);
  const bindingName = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/);
  const prefix = fc.stringMatching(/^[\w+=,.@-]{0,24}$/);
  const region = fc.constantFrom('eu-west-1', 'us-east-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1');

  it('always gives a valid IAM role name of at most 64 characters', () => {
    fc.assert(
      fc.property(prefix, region, clusterName, bindingName, (p, r, c, b) => {
        const name = roleNameFor(p, r, c, b, 'dev');
        expect(name.length).toBeLessThanOrEqual(ROLE_NAME_MAX_LENGTH);
        expect(name).toMatch(IAM_NAME_PATTERN);
        expect(name.startsWith(p)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives different identities different names, even case-insensitively', () => {
    const identity = fc.tuple(region, clusterName, bindingName);
    fc.assert(
      fc.property(
        fc.uniqueArray(identity, { minLength: 2, maxLength: 50, selector: (t) => JSON.stringify(t) }),
        (ids) => {
          const names = ids.map(([r, c, b]) => roleNameFor('irsa-', r, c, b, 'dev').toLowerCase());
          expect(new Set(names).size).toBe(ids.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('isValidClusterName', () => {
  it.each(['a', 'prod-eu-1', 'Prod_2', '0cluster', 'x'.repeat(100)])('accepts the EKS name %s', (name) => {
    expect(isValidClusterName(name)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a leading hyphen', '-prod'],
    ['a leading underscore', '_prod'],
    ['a slash', 'prod/x'],
    ['a wildcard', 'prod*'],
    ['a dot', 'prod.eu'],
    ['a space', 'prod eu'],
    ['a policy variable', '$' + '{aws:username}'],
    ['101 characters', 'x'.repeat(101)],
    ['a newline', 'prod\nx'],
  ])('refuses a name with %s', (_case, name) => {
    expect(isValidClusterName(name)).toBe(false);
  });

  it("agrees with EKS's pattern on any string", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (name) => {
        const eks = /^[0-9A-Za-z][A-Za-z0-9\-_]*$/.test(name) && name.length <= 100;
        expect(isValidClusterName(name)).toBe(eks);
      }),
    );
  });
});
