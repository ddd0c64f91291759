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

/** A canonical value: equal documents give deep-equal (and JSON-identical) canonical values. */
export function normalizePolicy(document: unknown): unknown {
  if (isPlainObject(document) && !('Version' in document)) {
    return normalizeValue({ ...document, Version: IAM_DEFAULT_VERSION });
  }
  return normalizeValue(document);
}

/** A canonical JSON text of a policy document; equal documents give the same text. */
export function canonicalPolicyJson(document: unknown): string {
  return JSON.stringify(normalizePolicy(document));
}

export function policiesEqual(a: unknown, b: unknown): boolean {
  return canonicalPolicyJson(a) === canonicalPolicyJson(b);
}

function normalizeValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    const byText = new Map<string, unknown>();
    for (const item of value) {
      const normalized = normalizeValue(item);
      byText.set(JSON.stringify(normalized), normalized);
    }
    const items = [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    return items.length === 1 ? items[0] : items;
  }
  if (isPlainObject(value)) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = normalizeValue(value[key]);
    return sorted;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
