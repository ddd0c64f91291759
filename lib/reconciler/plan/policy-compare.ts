/**
 * Semantic comparison of IAM policy documents, so a policy IAM hands back in another shape is not
 * rewritten on every run. Two documents are equal when IAM evaluates them alike:
 * - key order does not matter;
 * - a single-element array equals its element (`"Action": "s3:GetObject"` vs `["s3:GetObject"]`),
 *   which also covers `Statement` given as one object;
 * - arrays are sets (order and duplicates do not matter: actions, resources, condition values, statements);
 * - numbers and booleans equal their string form (IAM compares condition values as strings);
 * - a missing `Version` is IAM's default, `2008-10-17` (so it differs from `2012-10-17`).
 * URL-decoding the documents IAM returns is the caller's job.
 */

const IAM_DEFAULT_VERSION = '2008-10-17';

/** A canonical JSON text of a policy document; equal documents give the same text. One pass. */
export function canonicalPolicyJson(document: unknown): string {
  if (isPlainObject(document) && !('Version' in document)) {
    return canonical({ ...document, Version: IAM_DEFAULT_VERSION });
  }
  return canonical(document);
}

/** Fast path first: IAM usually returns a document as it was written, which a deep comparison settles. */
export function policiesEqual(a: unknown, b: unknown): boolean {
  return deepEqual(a, b) || canonicalPolicyJson(a) === canonicalPolicyJson(b);
}

/** Plain JSON deep equality (key order aside), without allocating. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  let count = 0;
  for (const key in a) {
    if (!Object.hasOwn(b, key) || !deepEqual(a[key], b[key])) return false;
    count++;
  }
  return count === Object.keys(b).length;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    const items = [...new Set(value.map(canonical))].sort();
    return items.length === 1 ? (items[0] as string) : `[${items.join(',')}]`;
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(String(value));
  return JSON.stringify(value) ?? 'null';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
