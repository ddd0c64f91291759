import {
  GetRoleCommand,
  GetRolePolicyCommand,
  ListOpenIDConnectProvidersCommand,
  paginateGetAccountAuthorizationDetails,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  paginateListRoles,
  paginateListRoleTags,
  type Role,
  type RoleDetail,
  type Tag,
} from '@aws-sdk/client-iam';
import { isNotFound, toAwsCallError } from '../../errors';
import type { ReconcilerDeps } from '../deps';
import { decodePolicyDocument } from '../plan/iam-decode';
import type { PolicyDocument } from '../types';

/**
 * Every IAM read of a role, in one place, for observe and apply alike (as the ACK IAM controller keeps
 * every call of a role in its resource manager). Each read names what failed; a role or policy that
 * no longer exists is `undefined`, never an error and never "empty".
 */

/** IAM's largest ListRoles page: its default of 100 would take ten sequential calls per 1,000 roles. */
export const LIST_ROLES_PAGE_SIZE = 1000;

/** IAM's largest GetAccountAuthorizationDetails page (it may return fewer: every page is read). */
export const AUTHORIZATION_DETAILS_PAGE_SIZE = 1000;

/**
 * Every role of the account with its trust policy, inline policies (documents included), attached
 * managed policies, permissions boundary and tags: one GetAccountAuthorizationDetails page per up to
 * 1,000 roles, instead of four reads per role. Each page is handed to `visit` as it arrives, so the
 * caller keeps only what it needs (memory stays bounded by the roles it keeps, not by the account).
 */
export async function forEachAccountRole(
  deps: ReconcilerDeps,
  visit: (role: RoleDetail) => void,
): Promise<void> {
  try {
    const pages = paginateGetAccountAuthorizationDetails(
      { client: deps.clients.iam, pageSize: AUTHORIZATION_DETAILS_PAGE_SIZE },
      { Filter: ['Role'] },
    );
    for await (const page of pages) {
      for (const role of page.RoleDetailList ?? []) visit(role);
    }
  } catch (error) {
    throw toAwsCallError('IAM GetAccountAuthorizationDetails (roles)', error);
  }
}

/** Every role under a path prefix (every page). */
export async function listRolesUnderPath(deps: ReconcilerDeps, pathPrefix: string): Promise<Role[]> {
  const listed: Role[] = [];
  try {
    const pages = paginateListRoles(
      { client: deps.clients.iam, pageSize: LIST_ROLES_PAGE_SIZE },
      { PathPrefix: pathPrefix },
    );
    for await (const page of pages) listed.push(...(page.Roles ?? []));
  } catch (error) {
    throw toAwsCallError(`IAM ListRoles under ${pathPrefix}`, error);
  }
  return listed;
}

/** A role's path and permissions boundary, as GetRole returns them; undefined when it is gone. */
export async function readRole(
  deps: ReconcilerDeps,
  roleName: string,
): Promise<{ path: string; permissionsBoundaryArn?: string } | undefined> {
  try {
    const { Role: role } = await deps.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
    const boundary = role?.PermissionsBoundary?.PermissionsBoundaryArn;
    return { path: role?.Path ?? '/', ...(boundary ? { permissionsBoundaryArn: boundary } : {}) };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM GetRole ${roleName}`, error);
  }
}

/** All tags of a role (every page); undefined when the role no longer exists. */
export async function readTags(
  deps: ReconcilerDeps,
  roleName: string,
): Promise<Record<string, string> | undefined> {
  const tags: Tag[] = [];
  try {
    for await (const page of paginateListRoleTags({ client: deps.clients.iam }, { RoleName: roleName })) {
      tags.push(...(page.Tags ?? []));
    }
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM ListRoleTags ${roleName}`, error);
  }
  return Object.fromEntries(tags.map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

/** Names of a role's inline policies (every page); undefined when the role no longer exists. */
export async function listInlinePolicyNames(
  deps: ReconcilerDeps,
  roleName: string,
): Promise<string[] | undefined> {
  const names: string[] = [];
  try {
    for await (const page of paginateListRolePolicies({ client: deps.clients.iam }, { RoleName: roleName })) {
      names.push(...(page.PolicyNames ?? []));
    }
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM ListRolePolicies ${roleName}`, error);
  }
  return names;
}

/** One inline policy, URL-decoded; undefined when it (or its role) no longer exists. */
export async function readInlinePolicy(
  deps: ReconcilerDeps,
  roleName: string,
  policyName: string,
): Promise<PolicyDocument | undefined> {
  try {
    const response = await deps.clients.iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
    );
    return decodePolicyDocument(
      response.PolicyDocument ?? '',
      `inline policy ${policyName} of role ${roleName}`,
    );
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM GetRolePolicy ${roleName}/${policyName}`, error);
  }
}

/** ARNs of the managed policies attached to a role (every page); undefined when the role is gone. */
export async function listAttachedPolicyArns(
  deps: ReconcilerDeps,
  roleName: string,
): Promise<string[] | undefined> {
  const arns: string[] = [];
  try {
    const pages = paginateListAttachedRolePolicies({ client: deps.clients.iam }, { RoleName: roleName });
    for await (const page of pages) {
      arns.push(
        ...(page.AttachedPolicies ?? []).map((policy) => policy.PolicyArn ?? policy.PolicyName ?? '?'),
      );
    }
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM ListAttachedRolePolicies ${roleName}`, error);
  }
  return arns.sort();
}

/** ARNs of the account's IAM OIDC providers (the call is not paginated: it returns them all). */
export async function listOidcProviderArns(deps: ReconcilerDeps): Promise<string[]> {
  try {
    const response = await deps.clients.iam.send(new ListOpenIDConnectProvidersCommand({}));
    return (response.OpenIDConnectProviderList ?? [])
      .map((provider) => provider.Arn)
      .filter((arn): arn is string => typeof arn === 'string')
      .sort();
  } catch (error) {
    throw toAwsCallError('IAM ListOpenIDConnectProviders', error);
  }
}
