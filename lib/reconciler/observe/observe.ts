import type { Role } from '@aws-sdk/client-iam';
import { mapWithConcurrency } from '../../util/concurrency';
import type { ReconcilerDeps } from '../deps';
import { isOwnedRole } from '../ownership';
import { decodePolicyDocument } from '../plan/iam-decode';
import type { ObservedRole, ObservedState, PolicyDocument, ReconcilerConfig } from '../types';
import {
  listAttachedPolicyArns,
  listInlinePolicyNames,
  listOidcProviderArns,
  listRolesUnderPath,
  readInlinePolicy,
  readRole,
  readTags,
} from './iam-roles';

export interface ObserveOptions {
  /** Provider ARNs already read by discovery (saves the second ListOpenIDConnectProviders). */
  oidcProviderArns?: string[];
}

/** The placeholder trust policy of an unowned role whose document could not be parsed: never acted on. */
const UNREADABLE: PolicyDocument = { Version: '', Statement: [] };

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
  const listed = await listRolesUnderPath(deps, config.rolePath);

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
    const current = await readRole(deps, role.roleName);
    const attached = current && (await listAttachedPolicyArns(deps, role.roleName));
    if (!current || !attached) {
      gone.add(role.roleName);
      return [];
    }
    if (current.permissionsBoundaryArn) role.permissionsBoundaryArn = current.permissionsBoundaryArn;
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
