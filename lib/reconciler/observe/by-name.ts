import { GetRoleCommand } from '@aws-sdk/client-iam';
import { isNotFound, toAwsCallError } from '../../errors';
import { mapWithConcurrency } from '../../util/concurrency';
import type { ReconcilerDeps } from '../deps';
import { isOwnedRole } from '../ownership';
import { decodePolicyDocument } from '../plan/iam-decode';
import type { ObservedRole, PolicyDocument, ReconcilerConfig, TakenName } from '../types';
import { listAttachedPolicyArns, listInlinePolicyNames, readInlinePolicy } from './iam-roles';

/**
 * The roles of given names, read one by one (GetRole, then the owned ones' inline and attached
 * policies): what a single-cluster reconcile observes instead of the whole account, so that its cost
 * is that cluster's few roles whatever the size of the fleet. A name held by a role this deployment
 * does not own is reported as taken, as the bulk read does.
 */
export async function observeRolesByName(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  roleNames: readonly string[],
): Promise<{ roles: ObservedRole[]; takenNames: Map<string, TakenName> }> {
  const roles: ObservedRole[] = [];
  const takenNames = new Map<string, TakenName>();
  const read = await mapWithConcurrency([...roleNames], config.concurrency, (roleName) =>
    readWholeRole(deps, config, roleName),
  );
  for (const found of read) {
    if (found === undefined) continue;
    if ('taken' in found) takenNames.set(found.taken.roleName.toLowerCase(), found.taken);
    else roles.push(found.role);
  }
  return { roles, takenNames };
}

async function readWholeRole(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  roleName: string,
): Promise<{ role: ObservedRole } | { taken: TakenName } | undefined> {
  let role: Awaited<ReturnType<typeof getRole>>;
  try {
    role = await getRole(deps, roleName);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError(`IAM GetRole ${roleName}`, error);
  }
  const path = role?.Path ?? '/';
  const tags = Object.fromEntries((role?.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
  const name = role?.RoleName ?? roleName;
  if (!isOwnedRole({ path, tags }, config)) return { taken: { roleName: name, path } };
  const policyNames = await listInlinePolicyNames(deps, name);
  const attached = await listAttachedPolicyArns(deps, name);
  if (policyNames === undefined || attached === undefined) return undefined;
  const inlinePolicies: Record<string, PolicyDocument> = {};
  for (const policyName of policyNames) {
    const document = await readInlinePolicy(deps, name, policyName);
    if (document !== undefined) inlinePolicies[policyName] = document;
  }
  const boundary = role?.PermissionsBoundary?.PermissionsBoundaryArn;
  return {
    role: {
      roleName: name,
      path,
      arn: role?.Arn ?? '',
      trustPolicy: decodePolicyDocument(role?.AssumeRolePolicyDocument ?? '', `trust policy of role ${name}`),
      tags,
      inlinePolicies,
      ...(boundary ? { permissionsBoundaryArn: boundary } : {}),
      attachedPolicyArns: attached,
    },
  };
}

async function getRole(deps: ReconcilerDeps, roleName: string) {
  const { Role } = await deps.clients.iam.send(new GetRoleCommand({ RoleName: roleName }));
  return Role;
}
