import {
  GetRoleCommand,
  GetRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  paginateListRoles,
  paginateListRoleTags,
  type Role,
  type Tag,
} from '@aws-sdk/client-iam';
import { isNotFound, toAwsCallError } from '../../errors';
import { mapWithConcurrency } from '../../util/concurrency';
import type { ReconcilerDeps } from '../index';
import { decodePolicyDocument } from '../plan/iam-decode';
import { isOwnedRole } from '../plan/plan';
import type { ObservedRole, ObservedState, PolicyDocument, ReconcilerConfig } from '../types';
import { listOidcProviderArns } from './discovery';

export interface ObserveOptions {
  /** Provider ARNs already read by discovery (saves the second ListOpenIDConnectProviders). */
  oidcProviderArns?: string[];
}

/** The placeholder trust policy of an unowned role whose document could not be parsed: never acted on. */
const UNREADABLE: PolicyDocument = { Version: '', Statement: [] };

/** IAM's largest ListRoles page: its default of 100 would take ten sequential calls per 1,000 roles. */
export const LIST_ROLES_PAGE_SIZE = 1000;

/**
 * Reads the roles under the owned path: every role's tags, and only for the roles this deployment
 * owns, their inline policies, permissions boundary and attached managed policies. Inline policies of
 * roles it does not own are never read. Any failed read throws: a partial view must never be planned
 * on, since a role missing from it would look absent. A role or policy deleted while being read is
 * simply gone.
 */
export async function observe(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  options: ObserveOptions = {},
): Promise<ObservedState> {
  const { iam } = deps.clients;
  const listed: Role[] = [];
  try {
    const paginator = paginateListRoles(
      { client: iam, pageSize: LIST_ROLES_PAGE_SIZE },
      { PathPrefix: config.rolePath },
    );
    for await (const page of paginator) {
      listed.push(...(page.Roles ?? []));
    }
  } catch (error) {
    throw toAwsCallError(`IAM ListRoles under ${config.rolePath}`, error);
  }

  // PathPrefix also matches deeper paths; only the exact path can be owned, but all are reported.
  const tagged = await mapWithConcurrency(listed, config.concurrency, async (role) => {
    const roleName = role.RoleName ?? '';
    const tags = await readTags(deps, roleName);
    return tags && { role, tags };
  });

  const observed: ObservedRole[] = tagged
    .filter((entry) => entry !== undefined)
    .map(({ role, tags }) => {
      const path = role.Path ?? '/';
      return {
        roleName: role.RoleName ?? '',
        path,
        arn: role.Arn ?? '',
        trustPolicy: readTrustPolicy(role, isOwnedRole({ path, tags }, config)),
        tags,
        inlinePolicies: {},
        attachedPolicyArns: [],
      };
    });

  // Only owned roles: their inline policy names (and boundary), then every document, each step
  // one queue so that no more than `concurrency` calls are ever in flight.
  const owned = observed.filter((role) => isOwnedRole(role, config));
  const gone = new Set<string>();
  const policyNames = await mapWithConcurrency(owned, config.concurrency, async (role) => {
    const names = await listInlinePolicyNames(deps, role.roleName);
    if (!names) {
      gone.add(role.roleName);
      return [];
    }
    const boundary = await readBoundary(deps, role.roleName);
    const attached = boundary === null ? undefined : await listAttachedPolicyArns(deps, role.roleName);
    if (boundary === null || attached === undefined) {
      gone.add(role.roleName);
      return [];
    }
    if (boundary) role.permissionsBoundaryArn = boundary;
    role.attachedPolicyArns = attached;
    return names.map((policyName) => ({ role, policyName }));
  });
  await mapWithConcurrency(policyNames.flat(), config.concurrency, async ({ role, policyName }) => {
    const document = await readInlinePolicy(deps, role.roleName, policyName);
    if (document) role.inlinePolicies[policyName] = document;
  });

  return {
    roles: observed
      .filter((role) => !gone.has(role.roleName))
      .sort((a, b) => a.roleName.localeCompare(b.roleName)),
    oidcProviderArns: options.oidcProviderArns ?? (await listOidcProviderArns(deps)),
  };
}

function readTrustPolicy(role: Role, owned: boolean): PolicyDocument {
  try {
    return decodePolicyDocument(role.AssumeRolePolicyDocument ?? '', `trust policy of role ${role.RoleName}`);
  } catch (error) {
    // An unowned role is only looked at, never changed: its document does not need to make sense to us.
    if (!owned) return UNREADABLE;
    throw error;
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

/** One inline policy, URL-decoded; undefined when it (or its role) no longer exists. */
async function readInlinePolicy(
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

/** ListRoles never returns the boundary; GetRole does. '' = none, null = the role is gone. */
async function readBoundary(deps: ReconcilerDeps, roleName: string): Promise<string | null> {
  try {
    const { Role: role } = await deps.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
    return role?.PermissionsBoundary?.PermissionsBoundaryArn ?? '';
  } catch (error) {
    if (isNotFound(error)) return null;
    throw toAwsCallError(`IAM GetRole ${roleName}`, error);
  }
}
