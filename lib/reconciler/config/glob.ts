/**
 * Cluster name globs: `*` matches any run of characters (also none), `?` exactly one; everything else is
 * literal and the whole name must match. Case-sensitive, like EKS cluster names.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** A matcher for a list of globs; an empty list matches nothing. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const patterns = globs.map(globToRegExp);
  return (name) => patterns.some((pattern) => pattern.test(name));
}
