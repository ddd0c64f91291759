import fc from 'fast-check';
import { compareVersionsDescending, isHelmVersion, parseHelmVersion } from '../../../../lib/helm/repo/semver';

describe('parseHelmVersion', () => {
  it.each([
    '1.2.3',
    'v1.2.3',
    '1.2',
    '1',
    '01.2.3',
    '1.2.3-rc.1',
    '1.2.3-0.alpha',
    '1.2.3+build.7',
    '1.0.0-x-y.z+b-1',
  ])('accepts %s, as Masterminds NewVersion does', (version) => {
    expect(isHelmVersion(version)).toBe(true);
  });

  it.each([
    '',
    'latest',
    '1.2.3.4',
    '1.2.3-01',
    '1.2.3-',
    '1.2.3-a..b',
    '1.2.3+',
    '1.2.3+a_b',
    ' 1.2.3',
    '1.2.3 ',
    `1.2.${'9'.repeat(300)}`,
    '99999999999999999999.0.0',
  ])('rejects "%s"', (version) => {
    expect(isHelmVersion(version)).toBe(false);
  });

  it('splits pre-release and build metadata', () => {
    expect(parseHelmVersion('v2.1-beta.3+sha.abc')).toEqual({
      major: 2n,
      minor: 1n,
      patch: 0n,
      prerelease: 'beta.3',
      build: 'sha.abc',
    });
  });
});

describe('compareVersionsDescending', () => {
  const newestFirst = [
    '10.0.0',
    '2.0.0',
    '2.0.0-rc.2',
    '2.0.0-rc.1',
    '2.0.0-beta.11',
    '2.0.0-beta.2',
    '2.0.0-beta',
    '2.0.0-alpha.beta',
    '2.0.0-alpha.1',
    '2.0.0-alpha',
    '1.10.0',
    '1.9.0',
    '1.0.0',
    'not-a-version',
  ];

  it('orders newest first: pre-releases below their release, numeric identifiers numerically, unparsable last', () => {
    // Prepare
    const shuffled = [...newestFirst].reverse();

    // Act
    const sorted = shuffled.sort(compareVersionsDescending);

    // Assess
    expect(sorted).toEqual(newestFirst);
  });

  it('ignores build metadata, breaking the tie by the version string so that any arrival order gives one result', () => {
    // Prepare
    const a = ['1.0.0+b', '1.0.0+a', '1.0.1'];
    const b = ['1.0.0+a', '1.0.1', '1.0.0+b'];

    // Act
    const sortedA = [...a].sort(compareVersionsDescending);
    const sortedB = [...b].sort(compareVersionsDescending);

    // Assess
    expect(sortedA).toEqual(['1.0.1', '1.0.0+a', '1.0.0+b']);
    expect(sortedB).toEqual(sortedA);
  });

  it('is a total order: the sort result does not depend on the input order', () => {
    const version = fc
      .tuple(
        fc.nat(3),
        fc.nat(3),
        fc.nat(3),
        fc.constantFrom('', '-rc.1', '-rc.10', '-alpha', '-0', '+b1', '+b2', 'x'),
      )
      .map(([major, minor, patch, suffix]) => `${major}.${minor}.${patch}${suffix}`);
    fc.assert(
      fc.property(fc.array(version, { maxLength: 20 }), (versions) => {
        const once = [...versions].sort(compareVersionsDescending);
        const again = [...versions].reverse().sort(compareVersionsDescending);
        expect(again).toEqual(once);
      }),
    );
  });
});
