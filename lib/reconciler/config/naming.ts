import { createHash } from 'node:crypto';

/** IAM's limit on role names. */
export const ROLE_NAME_MAX_LENGTH = 64;
/** IAM's limit on inline policy names. */
export const POLICY_NAME_MAX_LENGTH = 128;
/** Characters IAM accepts in role and policy names. */
export const IAM_NAME_PATTERN = /^[\w+=,.@-]+$/;
/** Hex characters of the identity hash at the end of every role name (40 bits). */
export const ROLE_NAME_HASH_LENGTH = 10;

/** EKS's own rule for cluster names (CreateCluster): a letter or digit, then letters, digits, - and _. */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
export const EKS_CLUSTER_NAME_RULE =
  '1 to 100 characters: a letter or digit, then letters, digits, hyphens and underscores';

/** Whether a name obeys EKS's naming rule; only such names are ever rendered into ARNs and role names. */
export function isValidClusterName(name: string): boolean {
  return EKS_CLUSTER_NAME.test(name);
}

/** The longest role name prefix the configuration accepts, so cluster and binding stay readable. */
export const ROLE_NAME_PREFIX_MAX_LENGTH = 24;
/** A truncated cluster name keeps at least this many characters. */
const MIN_PART_LENGTH = 8;

/**
 * The role name for one (region, cluster, binding): `<prefix><cluster>-<binding>-<hash>`.
 *
 * The hash is taken over the full identity (stage, region, cluster, binding), never over the truncated
 * text, so names stay unique across regions (IAM is global), across stages sharing an account, and when a
 * 100-character cluster name has to be shortened. The cluster part is truncated first, then the binding.
 * Deterministic: the same identity always gives the same name.
 */
export function roleNameFor(
  prefix: string,
  region: string,
  clusterName: string,
  bindingName: string,
  stage = '',
): string {
  const hash = identityHash([stage, region, clusterName, bindingName]);
  // Room for the cluster and binding parts: two '-' separators and the hash take the rest.
  const budget = ROLE_NAME_MAX_LENGTH - prefix.length - hash.length - 2;
  if (budget < 2 * MIN_PART_LENGTH) {
    throw new RangeError(`role name prefix "${prefix}" leaves no room for the cluster and binding names`);
  }
  const bindingPart = bindingName.slice(0, Math.min(bindingName.length, budget - MIN_PART_LENGTH));
  const clusterPart = clusterName.slice(0, budget - bindingPart.length);
  const name = `${prefix}${trimSeparators(clusterPart)}-${trimSeparators(bindingPart)}-${hash}`;
  return name.replace(/[^\w+=,.@-]/g, '_');
}

/**
 * The role name of a Pod Identity binding, one for the whole fleet: `<prefix>pi-<binding>-<hash>`, the
 * hash over (stage, "pod-identity", binding) so that it never equals an IRSA role's name.
 */
export function podIdentityRoleNameFor(prefix: string, bindingName: string, stage = ''): string {
  const hash = identityHash([stage, 'pod-identity', bindingName]);
  const budget = ROLE_NAME_MAX_LENGTH - prefix.length - 'pi-'.length - hash.length - 1;
  if (budget < MIN_PART_LENGTH) {
    throw new RangeError(`role name prefix "${prefix}" leaves no room for the binding name`);
  }
  return `${prefix}pi-${trimSeparators(bindingName.slice(0, budget))}-${hash}`;
}

/**
 * The rule that forwards a scanned region's EKS cluster calls to the stack's region: one name in
 * every region (at most 60 characters for a 32-character stage, within EventBridge's 64).
 */
export function forwardingRuleName(stage: string): string {
  return `irsa-reconciler-${stage}-eks-forward`;
}

/** The folder of a stage's published role ARNs in Parameter Store (the stack's IAM fences it). */
export function publishedParameterRoot(stage: string): string {
  return `/irsa-reconciler/${stage}/roles/`;
}

/** Where an IRSA role's ARN is published, in its cluster's region: `<root><cluster>/<binding>`. */
export function publishedParameterName(stage: string, clusterName: string, bindingName: string): string {
  return `${publishedParameterRoot(stage)}${clusterName}/${bindingName}`;
}

/**
 * The inline policy name for the `occurrence`-th (1-based) use of `template` in one binding:
 * `<template>` the first time, `<template>-<n>` after that.
 */
export function inlinePolicyName(template: string, occurrence: number): string {
  const name = occurrence <= 1 ? template : `${template}-${occurrence}`;
  if (name.length > POLICY_NAME_MAX_LENGTH || !IAM_NAME_PATTERN.test(name)) {
    throw new RangeError(`inline policy name "${name}" is not a valid IAM policy name`);
  }
  return name;
}

function identityHash(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, ROLE_NAME_HASH_LENGTH);
}

/** Separators at the cut would give `--` or `-_-`; drop them (the hash keeps the name unique). */
function trimSeparators(part: string): string {
  const trimmed = part.replace(/[-_]+$/, '');
  return trimmed === '' ? part : trimmed;
}
