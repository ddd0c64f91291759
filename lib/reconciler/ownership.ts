import type { ObservedRole, ReconcilerConfig } from './types';

/**
 * Ownership: which roles are this deployment's. A role is, only when it sits exactly at the configured
 * path AND carries the managed-by tag AND this stage's tag. The stack's IAM policy holds the reconciler
 * to the same rule (conditions on these tags), so the code and IAM enforce it twice.
 */

export const TAG_MANAGED_BY = 'irsa-reconciler/managed-by';
export const TAG_MANAGED_BY_VALUE = 'irsa-reconciler';
export const TAG_STAGE = 'irsa-reconciler/stage';
export const TAG_REGION = 'irsa-reconciler/region';
export const TAG_CLUSTER = 'irsa-reconciler/cluster';
export const TAG_BINDING = 'irsa-reconciler/binding';
/** On Pod Identity roles only (an IRSA role carries region and cluster tags instead). */
export const TAG_MODE = 'irsa-reconciler/mode';

/** Anything that is not this deployment's is never changed, whatever its name. */
export function isOwnedRole(role: Pick<ObservedRole, 'path' | 'tags'>, config: ReconcilerConfig): boolean {
  return (
    role.path === config.rolePath &&
    role.tags[TAG_MANAGED_BY] === TAG_MANAGED_BY_VALUE &&
    role.tags[TAG_STAGE] === config.stage
  );
}

/** Whether a set of tags marks a resource (role or association) as this deployment's. */
export function hasOwnershipTags(tags: Record<string, string>, stage: string): boolean {
  return tags[TAG_MANAGED_BY] === TAG_MANAGED_BY_VALUE && tags[TAG_STAGE] === stage;
}

/** An owned role that serves a Pod Identity binding (the fleet's role). */
export function isPodIdentityRole(role: Pick<ObservedRole, 'tags'>): boolean {
  return role.tags[TAG_MODE] === 'pod-identity';
}

/** The tags of a binding's Pod Identity role, and of its associations (which add region and cluster). */
export function podIdentityOwnershipTags(stage: string, bindingName: string): Record<string, string> {
  return {
    [TAG_MANAGED_BY]: TAG_MANAGED_BY_VALUE,
    [TAG_STAGE]: stage,
    [TAG_BINDING]: bindingName,
    [TAG_MODE]: 'pod-identity',
  };
}

/** The tags that mark a role as this deployment's, for one (region, cluster, binding). */
export function ownershipTags(
  stage: string,
  region: string,
  clusterName: string,
  bindingName: string,
): Record<string, string> {
  return {
    [TAG_MANAGED_BY]: TAG_MANAGED_BY_VALUE,
    [TAG_STAGE]: stage,
    [TAG_REGION]: region,
    [TAG_CLUSTER]: clusterName,
    [TAG_BINDING]: bindingName,
  };
}
