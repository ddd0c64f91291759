import type { AccountInfo, Action, ObservedRole, ObservedState, Plan } from '../types';

/**
 * Applies a plan to an observed state in memory, as IAM would: the model for property tests and for
 * showing what a dry run would leave behind. Pure; throws like IAM on an action that cannot apply
 * (creating a role that exists, changing one that does not), so a wrong plan is caught.
 */
export function simulatePlan(observed: ObservedState, plan: Plan, account: AccountInfo): ObservedState {
  const roles = new Map(observed.roles.map((role) => [role.roleName, structuredClone(role)]));
  const providers = new Set(observed.oidcProviderArns);
  for (const action of plan.actions) {
    if (action.kind === 'create-oidc-provider') {
      if (providers.has(action.provider.arn)) throw new Error(`EntityAlreadyExists: ${action.provider.arn}`);
      providers.add(action.provider.arn);
    } else if (action.kind === 'create') {
      const { role } = action;
      if (roles.has(role.roleName)) throw new Error(`EntityAlreadyExists: role ${role.roleName}`);
      const created: ObservedRole = {
        roleName: role.roleName,
        path: role.path,
        arn: `arn:${account.partition}:iam::${account.accountId}:role${role.path}${role.roleName}`,
        trustPolicy: structuredClone(role.trustPolicy),
        tags: { ...role.tags },
        inlinePolicies: {},
        permissionsBoundaryArn: role.permissionsBoundaryArn,
        attachedPolicyArns: [],
      };
      roles.set(role.roleName, created);
    } else if (isRoleAction(action)) {
      applyToRole(roles, action);
    }
  }
  return { roles: [...roles.values()], oidcProviderArns: [...providers] };
}

/** Pod Identity associations and add-ons are EKS's, not IAM's: this model leaves them out. */
type RoleAction = Exclude<
  Action,
  {
    kind:
      | 'create'
      | 'create-oidc-provider'
      | 'install-agent'
      | 'create-association'
      | 'update-association'
      | 'delete-association'
      | 'association-no-op'
      | 'put-parameter'
      | 'delete-parameter'
      | 'put-forwarding-rule'
      | 'delete-forwarding-rule'
      | 'forwarding-no-op';
  }
>;

const ROLE_ACTIONS: ReadonlySet<Action['kind']> = new Set([
  'update-trust',
  'put-policy',
  'delete-policy',
  'tag',
  'set-boundary',
  'detach-policy',
  'delete',
  'no-op',
]);

function isRoleAction(action: Action): action is RoleAction {
  return ROLE_ACTIONS.has(action.kind);
}

function applyToRole(roles: Map<string, ObservedRole>, action: RoleAction): void {
  const role = roles.get(action.roleName);
  if (role === undefined) throw new Error(`NoSuchEntity: role ${action.roleName} (${action.kind})`);
  switch (action.kind) {
    case 'update-trust':
      role.trustPolicy = structuredClone(action.trustPolicy);
      return;
    case 'put-policy':
      role.inlinePolicies[action.policyName] = structuredClone(action.document);
      return;
    case 'delete-policy':
      if (!(action.policyName in role.inlinePolicies)) {
        throw new Error(`NoSuchEntity: policy ${action.policyName} of role ${action.roleName}`);
      }
      delete role.inlinePolicies[action.policyName];
      return;
    case 'tag':
      Object.assign(role.tags, action.tags);
      return;
    case 'set-boundary':
      role.permissionsBoundaryArn = action.permissionsBoundaryArn;
      return;
    case 'detach-policy':
      if (!role.attachedPolicyArns.includes(action.policyArn)) {
        throw new Error(
          `NoSuchEntity: policy ${action.policyArn} is not attached to role ${action.roleName}`,
        );
      }
      role.attachedPolicyArns = role.attachedPolicyArns.filter((arn) => arn !== action.policyArn);
      return;
    case 'delete':
      roles.delete(action.roleName);
      return;
    case 'no-op':
      return;
  }
}
