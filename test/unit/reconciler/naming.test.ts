import {
  IAM_NAME_PATTERN,
  inlinePolicyName,
  ROLE_NAME_MAX_LENGTH,
  roleNameFor,
} from '../../../lib/reconciler/naming';

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
