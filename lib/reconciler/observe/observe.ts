import type { RoleDetail } from '@aws-sdk/client-iam';
import type { ReconcilerDeps } from '../deps';
import { isOwnedRole } from '../ownership';
import { decodePolicyDocument } from '../plan/iam-decode';
import type { ObservedRole, ObservedState, PolicyDocument, ReconcilerConfig, TakenName } from '../types';
import { forEachAccountRole, listOidcProviderArns } from './iam-roles';

export interface ObserveOptions {
  /** Provider ARNs already read by discovery (saves the second ListOpenIDConnectProviders). */
  oidcProviderArns?: string[];
}

/**
 * Reads the account's roles in bulk (GetAccountAuthorizationDetails: a few pages, not four calls per
 * role) and keeps, page by page, the roles this deployment owns with everything the plan compares
 * (trust, inline policies, boundary, attached managed policies, tags), and of every other role only its
 * name and path: a desired name held anywhere in the account is then seen before any write. A failed
 * read throws: a partial view must never be planned on, since a role missing from it would look absent.
 */
export async function observe(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  options: ObserveOptions = {},
): Promise<ObservedState> {
  const roles: ObservedRole[] = [];
  const takenNames = new Map<string, TakenName>();
  await forEachAccountRole(deps, (role) => {
    const roleName = role.RoleName ?? '';
    const path = role.Path ?? '/';
    const tags = Object.fromEntries((role.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
    if (isOwnedRole({ path, tags }, config)) roles.push(observedRole(role, roleName, path, tags));
    else takenNames.set(roleName.toLowerCase(), { roleName, path });
  });
  return {
    roles: roles.sort((a, b) => a.roleName.localeCompare(b.roleName)),
    takenNames,
    oidcProviderArns: options.oidcProviderArns ?? (await listOidcProviderArns(deps)),
  };
}

/** An owned role as the plan compares it: documents URL-decoded and parsed. */
function observedRole(
  role: RoleDetail,
  roleName: string,
  path: string,
  tags: Record<string, string>,
): ObservedRole {
  const inlinePolicies: Record<string, PolicyDocument> = {};
  for (const policy of role.RolePolicyList ?? []) {
    const policyName = policy.PolicyName ?? '';
    inlinePolicies[policyName] = decodePolicyDocument(
      policy.PolicyDocument ?? '',
      `inline policy ${policyName} of role ${roleName}`,
    );
  }
  const boundary = role.PermissionsBoundary?.PermissionsBoundaryArn;
  return {
    roleName,
    path,
    arn: role.Arn ?? '',
    trustPolicy: decodePolicyDocument(
      role.AssumeRolePolicyDocument ?? '',
      `trust policy of role ${roleName}`,
    ),
    tags,
    inlinePolicies,
    ...(boundary ? { permissionsBoundaryArn: boundary } : {}),
    attachedPolicyArns: (role.AttachedManagedPolicies ?? [])
      .map((policy) => policy.PolicyArn ?? policy.PolicyName ?? '?')
      .sort(),
  };
}
