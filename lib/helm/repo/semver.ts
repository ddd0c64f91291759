/**
 * Chart versions as Helm reads and orders them: github.com/Masterminds/semver/v3 (v3.5.0, the version
 * Helm 3.21 builds with) `NewVersion` in its default coercing mode, and `Version.Compare`.
 *
 * Coercing mode is lenient: a `v` prefix, missing minor/patch (`1.2` is 1.2.0) and leading zeros in the
 * numeric parts are accepted; the pre-release and build parts are checked as SemVer 2 requires.
 */

export interface HelmVersion {
  major: bigint;
  minor: bigint;
  patch: bigint;
  /** Pre-release identifiers without the leading '-', '' when none. */
  prerelease: string;
  /** Build metadata without the leading '+', '' when none (ignored in comparisons). */
  build: string;
}

/** Masterminds' MaxVersionLen. */
const MAX_VERSION_LENGTH = 256;
const MAX_UINT64 = (1n << 64n) - 1n;
/** Masterminds' looseSemVerRegex, anchored as `NewVersion` uses it. */
const LOOSE_VERSION =
  /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
const NUMERIC = /^[0-9]+$/;

/** Parses a version as Helm does; returns the reason when Helm would reject it. */
export function parseHelmVersion(version: string): HelmVersion | { error: string } {
  if (version.length > MAX_VERSION_LENGTH) return { error: `longer than ${MAX_VERSION_LENGTH} characters` };
  const match = LOOSE_VERSION.exec(version);
  if (match === null) return { error: 'not a semantic version' };
  const major = toUint64(match[1] ?? '0');
  const minor = toUint64((match[2] ?? '.0').slice(1));
  const patch = toUint64((match[3] ?? '.0').slice(1));
  if (major === undefined || minor === undefined || patch === undefined) {
    return { error: 'a version segment is out of range' };
  }
  const prerelease = match[5] ?? '';
  const build = match[8] ?? '';
  for (const part of prerelease === '' ? [] : prerelease.split('.')) {
    if (NUMERIC.test(part) && part.length > 1 && part.startsWith('0')) {
      return { error: 'a numeric pre-release identifier has a leading zero' };
    }
  }
  return { major, minor, patch, prerelease, build };
}

export function isHelmVersion(version: string): boolean {
  return !('error' in parseHelmVersion(version));
}

/** Masterminds `Compare`: -1, 0 or 1; build metadata is ignored. */
export function compareHelmVersions(a: HelmVersion, b: HelmVersion): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease === '' && b.prerelease === '') return 0;
  if (a.prerelease === '') return 1;
  if (b.prerelease === '') return -1;
  return comparePrerelease(a.prerelease, b.prerelease);
}

function comparePrerelease(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  const length = Math.max(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const difference = comparePrereleasePart(left[index] ?? '', right[index] ?? '');
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Masterminds `comparePrePart`: numbers (that fit in uint64) sort below alphanumerics. */
function comparePrereleasePart(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const aNumber = NUMERIC.test(a) ? toUint64(a) : undefined;
  const bNumber = NUMERIC.test(b) ? toUint64(b) : undefined;
  if (aNumber === undefined && bNumber === undefined) return a > b ? 1 : -1;
  if (bNumber === undefined) return -1;
  if (aNumber === undefined) return 1;
  return aNumber > bNumber ? 1 : -1;
}

function toUint64(digits: string): bigint | undefined {
  const value = BigInt(digits);
  return value > MAX_UINT64 ? undefined : value;
}

const parsedVersions = new Map<string, HelmVersion | null>();
const MAX_CACHED_VERSIONS = 200_000;

/** parseHelmVersion, remembered: sorting an index compares the same strings many times. */
function cachedVersion(version: string): HelmVersion | null {
  let parsed = parsedVersions.get(version);
  if (parsed === undefined) {
    const result = parseHelmVersion(version);
    parsed = 'error' in result ? null : result;
    if (parsedVersions.size >= MAX_CACHED_VERSIONS) parsedVersions.clear();
    parsedVersions.set(version, parsed);
  }
  return parsed;
}

/**
 * Orders version strings newest first, as Helm's `IndexFile.SortEntries` does: SemVer descending,
 * unparsable versions last. Helm's sort is not stable for equal versions (which differ only in build
 * metadata); this order breaks such ties by the version string, ascending, which is what
 * `helm repo index` produces for archives named `<name>-<version>.tgz`, and keeps the result
 * independent of the order in which charts arrived.
 */
export function compareVersionsDescending(a: string, b: string): number {
  if (a === b) return 0;
  const left = cachedVersion(a);
  const right = cachedVersion(b);
  if (left !== null && right !== null) {
    const difference = compareHelmVersions(right, left);
    if (difference !== 0) return difference;
  } else if (left !== null || right !== null) {
    return left !== null ? -1 : 1;
  }
  return a < b ? -1 : 1;
}

/**
 * SemVer order alone, newest first: 0 for versions equal but for build metadata (which SemVer ignores);
 * unparsable versions last, among themselves by their text.
 */
export function compareSemverDescending(a: string, b: string): number {
  if (a === b) return 0;
  const left = cachedVersion(a);
  const right = cachedVersion(b);
  if (left !== null && right !== null) return compareHelmVersions(right, left);
  if (left !== null || right !== null) return left !== null ? -1 : 1;
  return a < b ? -1 : 1;
}
