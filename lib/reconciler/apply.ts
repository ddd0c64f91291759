import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  awsErrorCode,
  describeError,
  IrsaReconcilerError,
  isNotFound,
  isRetryableAwsError,
  NotOwnedError,
  toAwsCallError,
} from '../errors';
import { mapSettled } from '../util/concurrency';
import { deleteForwardingRule, putForwardingRule } from './apply-forwarding';
import { deleteParameter, putParameter } from './apply-parameters';
import {
  type AssociationAction,
  applyAssociation,
  installAgent,
  type PodIdentityApplyContext,
} from './apply-pod-identity';
import type { ReconcilerDeps } from './deps';
import { listAttachedPolicyArns, listInlinePolicyNames, readRole, readTags } from './observe/iam-roles';
import { isOwnedRole, TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_STAGE } from './ownership';
import type {
  Action,
  ActionOutcome,
  ActionResult,
  DesiredOidcProvider,
  DesiredRole,
  Plan,
  PolicyDocument,
  ReconcilerConfig,
} from './types';

type ProviderAction = Extract<Action, { kind: 'create-oidc-provider' }>;
type AgentAction = Extract<Action, { kind: 'install-agent' }>;
type ParameterAction = Extract<Action, { kind: 'put-parameter' | 'delete-parameter' }>;
type ForwardingAction = Extract<
  Action,
  { kind: 'put-forwarding-rule' | 'delete-forwarding-rule' | 'forwarding-no-op' }
>;
type RoleAction = Exclude<
  Action,
  ProviderAction | AgentAction | AssociationAction | ParameterAction | ForwardingAction
>;

/**
 * The order of one role's actions: it exists first, gets its boundary next (the stack's IAM policy lets
 * the reconciler change only roles that carry it), frees inline-policy space before adding, goes last.
 */
const ORDER: Record<RoleAction['kind'], number> = {
  create: 0,
  'set-boundary': 1,
  'update-trust': 2,
  tag: 3,
  'detach-policy': 4,
  'delete-policy': 5,
  'put-policy': 6,
  delete: 7,
  'no-op': 8,
};

export interface ApplyOptions {
  /**
   * Waits before retrying a CreateRole that IAM rejects because the OIDC provider its trust policy
   * names was created moments ago in this run (IAM is eventually consistent). Default 2 s, 4 s, 8 s.
   */
  providerPropagationDelaysMs?: readonly number[];
  /**
   * Waits before retrying an association refused because its role, created in this run, is not yet
   * visible to EKS (IAM is eventually consistent). Default 2 s, 4 s, 8 s, 16 s.
   */
  roleVisibilityDelaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
}

interface ApplyContext {
  deps: ReconcilerDeps;
  config: ReconcilerConfig;
  /** Providers created by this run: a role trusting one may have to wait for it to propagate. */
  newProviders: ReadonlySet<string>;
  /** Providers whose creation failed, with the error: their roles are not attempted. */
  failedProviders: ReadonlyMap<string, string>;
  propagationDelaysMs: readonly number[];
}

/**
 * Executes exactly the plan, in phases: OIDC providers and the Pod Identity agent add-ons; then every
 * role's actions but deletes, in order, roles in parallel (at most `concurrency` at once); then the
 * associations (a create or update only once its role is in place); last the role deletes (so a
 * teardown removes associations before their role). A failed action stops the rest of its role only;
 * every action gets an outcome. The SDK retries throttling and 5xx itself; what still fails is reported
 * with the retryable flag of the error.
 */
export async function apply(
  deps: ReconcilerDeps,
  plan: Plan,
  config: ReconcilerConfig,
  options: ApplyOptions = {},
): Promise<ActionResult[]> {
  const results = new Map<Action, ActionOutcome>();
  const providerActions = plan.actions.filter(
    (action): action is ProviderAction => action.kind === 'create-oidc-provider',
  );
  const created = await mapSettled(providerActions, config.concurrency, (action) =>
    createOidcProvider(deps, action.provider, config),
  );
  const newProviders = new Set<string>();
  const failedProviders = new Map<string, string>();
  providerActions.forEach((action, index) => {
    const outcome = toOutcome(created[index]);
    results.set(action, outcome);
    if (outcome.status === 'failed') failedProviders.set(action.provider.arn, outcome.error);
    else newProviders.add(action.provider.arn);
  });
  const context: ApplyContext = {
    deps,
    config,
    newProviders,
    failedProviders,
    propagationDelaysMs: options.providerPropagationDelaysMs ?? [2_000, 4_000, 8_000],
  };
  const podContext: PodIdentityApplyContext = {
    deps,
    config,
    roleVisibilityDelaysMs: options.roleVisibilityDelaysMs ?? [2_000, 4_000, 8_000, 16_000],
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };

  const agents = plan.actions.filter((action): action is AgentAction => action.kind === 'install-agent');
  const installed = await mapSettled(agents, config.concurrency, (action) =>
    installAgent(podContext, action.region, action.clusterName),
  );
  for (const [index, action] of agents.entries()) results.set(action, toOutcome(installed[index]));

  const byRole = new Map<string, RoleAction[]>();
  const deletesByRole = new Map<string, RoleAction[]>();
  const associations: AssociationAction[] = [];
  const parameters: ParameterAction[] = [];
  const forwarding: ForwardingAction[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'create-oidc-provider' || action.kind === 'install-agent') continue;
    if (
      action.kind === 'put-forwarding-rule' ||
      action.kind === 'delete-forwarding-rule' ||
      action.kind === 'forwarding-no-op'
    ) {
      forwarding.push(action);
      continue;
    }
    if (isAssociationAction(action)) {
      associations.push(action);
      continue;
    }
    if (action.kind === 'put-parameter' || action.kind === 'delete-parameter') {
      parameters.push(action);
      continue;
    }
    const groups = action.kind === 'delete' ? deletesByRole : byRole;
    const name = roleNameOf(action);
    groups.set(name, [...(groups.get(name) ?? []), action]);
  }
  const failedRoles = new Map<string, string>();
  const createdRoles = new Set<string>();
  await mapSettled([...byRole.values()], config.concurrency, async (actions) => {
    for (const [action, outcome] of await applyRole(context, actions)) {
      results.set(action, outcome);
      const name = roleNameOf(action as RoleAction);
      if (outcome.status === 'failed') failedRoles.set(name, outcome.error);
      else if (action.kind === 'create') createdRoles.add(name);
    }
  });

  await mapSettled(associations, config.concurrency, async (action) => {
    const roleName =
      action.kind === 'create-association'
        ? action.association.roleName
        : action.kind === 'update-association'
          ? action.roleName
          : undefined;
    const roleError = roleName === undefined ? undefined : failedRoles.get(roleName);
    if (roleError !== undefined) {
      results.set(action, {
        status: 'failed',
        error: `not attempted: role ${roleName} failed`,
        retryable: true,
      });
      return;
    }
    const outcome = toOutcome(
      await settle(() =>
        applyAssociation(podContext, action, roleName !== undefined && createdRoles.has(roleName)),
      ),
    );
    results.set(action, outcome);
    if (outcome.status === 'failed') {
      deps.logger.warn('action failed', {
        action: action.kind,
        target: action.association,
        error: outcome.error,
      });
    }
  });

  await mapSettled([...deletesByRole.values()], config.concurrency, async (actions) => {
    for (const [action, outcome] of await applyRole(context, actions)) results.set(action, outcome);
  });

  // Published ARNs last: a role's ARN is put once the role is in place, removed once it is gone.
  await mapSettled(parameters, config.concurrency, async (action) => {
    if (action.kind === 'put-parameter' && failedRoles.has(action.parameter.roleName)) {
      results.set(action, {
        status: 'failed',
        error: `not attempted: role ${action.parameter.roleName} failed`,
        retryable: true,
      });
      return;
    }
    results.set(
      action,
      toOutcome(
        await settle(() =>
          action.kind === 'put-parameter'
            ? putParameter(deps, config, action.parameter, action.create)
            : deleteParameter(deps, action.region, action.name),
        ),
      ),
    );
  });

  // Forwarding rules are independent of roles: each region's on its own.
  await mapSettled(forwarding, config.concurrency, async (action) => {
    if (action.kind === 'forwarding-no-op') {
      results.set(action, { status: 'succeeded' });
      return;
    }
    results.set(
      action,
      toOutcome(
        await settle(() =>
          action.kind === 'put-forwarding-rule'
            ? putForwardingRule(deps, config, action.rule, action.create, action.extraTargetIds)
            : deleteForwardingRule(deps, config, action.region, action.name),
        ),
      ),
    );
  });

  return plan.actions.map((action) => ({
    action,
    outcome: results.get(action) ?? {
      status: 'failed',
      error: 'internal error: not executed',
      retryable: false,
    },
  }));
}

/** One role's actions in their fixed order; after a failure the rest are reported, not attempted. */
async function applyRole(
  context: ApplyContext,
  actions: readonly RoleAction[],
): Promise<[Action, ActionOutcome][]> {
  const ordered = [...actions].sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
  const outcomes: [Action, ActionOutcome][] = [];
  let blocker: { error: string; retryable: boolean } | undefined;
  for (const action of ordered) {
    const providerError =
      action.kind === 'create' && action.role.mode === 'irsa'
        ? context.failedProviders.get(action.role.oidcProviderArn)
        : undefined;
    let outcome: ActionOutcome;
    if (blocker) {
      outcome = { status: 'failed', error: `not attempted: ${blocker.error}`, retryable: blocker.retryable };
    } else if (providerError) {
      outcome = {
        status: 'failed',
        error: `its OIDC provider could not be created: ${providerError}`,
        retryable: true,
      };
    } else {
      outcome = toOutcome(await settle(() => applyRoleAction(context, action, ordered)));
    }
    outcomes.push([action, outcome]);
    if (outcome.status === 'failed' && !blocker) {
      blocker = {
        error: `${action.kind} of role ${roleNameOf(action)} failed`,
        retryable: outcome.retryable,
      };
      context.deps.logger.warn('action failed', {
        action: action.kind,
        role: roleNameOf(action),
        error: outcome.error,
      });
    }
  }
  return outcomes;
}

function isAssociationAction(action: Action): action is AssociationAction {
  return (
    action.kind === 'create-association' ||
    action.kind === 'update-association' ||
    action.kind === 'delete-association' ||
    action.kind === 'association-no-op'
  );
}

export function roleNameOf(action: RoleAction): string {
  return action.kind === 'create' ? action.role.roleName : action.roleName;
}

async function settle<T>(fn: () => Promise<T>): Promise<PromiseSettledResult<T>> {
  try {
    return { status: 'fulfilled', value: await fn() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

function toOutcome(result: PromiseSettledResult<unknown> | undefined): ActionOutcome {
  if (result?.status === 'fulfilled') return { status: 'succeeded' };
  const error: unknown = result?.reason ?? new Error('not executed');
  return { status: 'failed', error: describeError(error), retryable: isRetryableAwsError(error) };
}

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toAwsCallError(operation, error);
  }
}

/** Ignores NotFound: the thing to remove is already gone. */
async function removing(operation: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!isNotFound(error)) throw toAwsCallError(operation, error);
  }
}

async function createOidcProvider(
  deps: ReconcilerDeps,
  provider: DesiredOidcProvider,
  config: ReconcilerConfig,
): Promise<void> {
  try {
    // No thumbprint: IAM trusts the EKS issuers through its own root CA library.
    await deps.clients.iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: provider.issuerUrl,
        ClientIDList: ['sts.amazonaws.com'],
        Tags: [
          { Key: TAG_MANAGED_BY, Value: TAG_MANAGED_BY_VALUE },
          { Key: TAG_STAGE, Value: config.stage },
        ],
      }),
    );
    deps.logger.info('created OIDC provider', {
      region: provider.region,
      cluster: provider.clusterName,
      arn: provider.arn,
    });
  } catch (error) {
    // Created meanwhile (another run, a retried request whose first attempt went through): done.
    if (isAlreadyExists(error)) return;
    throw toAwsCallError(`IAM CreateOpenIDConnectProvider ${provider.issuerUrl}`, error);
  }
}

async function applyRoleAction(
  context: ApplyContext,
  action: RoleAction,
  roleActions: readonly RoleAction[],
): Promise<void> {
  const { iam } = context.deps.clients;
  switch (action.kind) {
    case 'create':
      return createRole(context, action.role, roleActions);
    case 'update-trust':
      await call(`IAM UpdateAssumeRolePolicy ${action.roleName}`, () =>
        iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: action.roleName,
            PolicyDocument: JSON.stringify(action.trustPolicy),
          }),
        ),
      );
      return;
    case 'put-policy':
      return putPolicy(context.deps, action.roleName, action.policyName, action.document);
    case 'delete-policy':
      return removing(`IAM DeleteRolePolicy ${action.roleName}/${action.policyName}`, () =>
        iam.send(new DeleteRolePolicyCommand({ RoleName: action.roleName, PolicyName: action.policyName })),
      );
    case 'tag':
      await call(`IAM TagRole ${action.roleName}`, () =>
        iam.send(new TagRoleCommand({ RoleName: action.roleName, Tags: toTagList(action.tags) })),
      );
      return;
    case 'set-boundary':
      return putBoundary(context.deps, action.roleName, action.permissionsBoundaryArn);
    case 'detach-policy':
      return detachPolicy(context.deps, action.roleName, action.policyArn);
    case 'delete':
      return deleteRole(context.deps, action.roleName, context.config);
    case 'no-op':
      return;
  }
}

async function putBoundary(deps: ReconcilerDeps, roleName: string, boundaryArn: string): Promise<void> {
  await call(`IAM PutRolePermissionsBoundary ${roleName}`, () =>
    deps.clients.iam.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: roleName, PermissionsBoundary: boundaryArn }),
    ),
  );
}

async function detachPolicy(deps: ReconcilerDeps, roleName: string, policyArn: string): Promise<void> {
  await removing(`IAM DetachRolePolicy ${roleName} ${policyArn}`, () =>
    deps.clients.iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })),
  );
  deps.logger.info('detached a managed policy attached by hand', { role: roleName, policyArn });
}

async function putPolicy(
  deps: ReconcilerDeps,
  roleName: string,
  policyName: string,
  document: PolicyDocument,
): Promise<void> {
  await call(`IAM PutRolePolicy ${roleName}/${policyName}`, () =>
    deps.clients.iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policyName,
        PolicyDocument: JSON.stringify(document),
      }),
    ),
  );
}

/**
 * CreateRole with the trust policy, tags and boundary, then the inline policies the plan does not
 * put itself. If the name is taken, the existing role is re-read: ours (a retried create whose first
 * attempt went through) → carry on; anyone else's → a terminal NotOwnedError. A trust policy naming
 * an OIDC provider created moments ago may be refused until IAM has propagated it: retried a few times.
 */
async function createRole(
  context: ApplyContext,
  role: DesiredRole,
  roleActions: readonly RoleAction[],
): Promise<void> {
  const { deps, config } = context;
  const request = new CreateRoleCommand({
    RoleName: role.roleName,
    Path: role.path,
    AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy),
    Description: role.description,
    Tags: toTagList(role.tags),
    PermissionsBoundary: role.permissionsBoundaryArn,
  });
  const waits =
    role.mode === 'irsa' && context.newProviders.has(role.oidcProviderArn)
      ? [...context.propagationDelaysMs]
      : [];
  for (;;) {
    try {
      await deps.clients.iam.send(request);
      break;
    } catch (error) {
      const wait = isMalformedPolicy(error) ? waits.shift() : undefined;
      if (wait !== undefined) {
        deps.logger.info('trust policy refused right after creating its OIDC provider; retrying', {
          role: role.roleName,
          waitMs: wait,
        });
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue;
      }
      if (!isAlreadyExists(error)) throw toAwsCallError(`IAM CreateRole ${role.roleName}`, error);
      if (!(await assertOwned(deps, role.roleName, config, 'create'))) {
        throw new IrsaReconcilerError(`role ${role.roleName} was deleted while being created`, {
          retryable: true,
        });
      }
      break;
    }
  }
  const putByPlan = new Set(
    roleActions.flatMap((action) => (action.kind === 'put-policy' ? [action.policyName] : [])),
  );
  for (const [policyName, document] of Object.entries(role.inlinePolicies)) {
    if (!putByPlan.has(policyName)) await putPolicy(deps, role.roleName, policyName, document);
  }
}

/**
 * Safe delete: re-read the role and check ownership again (the plan may be stale); give it the boundary
 * if it lacks it (a role made before the boundary was required: IAM lets the reconciler change only
 * bounded roles); refuse if a managed policy is attached (we never attach any: someone else relies on
 * this role) unless `detachUnmanagedPolicies` is set; then delete the inline policies and the role.
 * NotFound at any step means done.
 */
async function deleteRole(deps: ReconcilerDeps, roleName: string, config: ReconcilerConfig): Promise<void> {
  const { iam } = deps.clients;
  const owned = await assertOwned(deps, roleName, config, 'delete');
  if (!owned) return;
  if (owned.permissionsBoundaryArn !== config.permissionsBoundaryArn) {
    await putBoundary(deps, roleName, config.permissionsBoundaryArn);
  }

  const attached = await listAttachedPolicyArns(deps, roleName);
  if (!attached) return;
  if (attached.length > 0 && !config.detachUnmanagedPolicies) {
    throw new IrsaReconcilerError(
      `refusing to delete role ${roleName}: managed policies were attached to it outside the reconciler ` +
        `(${attached.join(', ')}); detach them, or set detachUnmanagedPolicies, to let the reconciler delete the role`,
    );
  }
  for (const policyArn of attached) await detachPolicy(deps, roleName, policyArn);

  const inline = await listInlinePolicyNames(deps, roleName);
  if (!inline) return;
  for (const policyName of inline) {
    await removing(`IAM DeleteRolePolicy ${roleName}/${policyName}`, () =>
      iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
    );
  }
  await removing(`IAM DeleteRole ${roleName}`, () => iam.send(new DeleteRoleCommand({ RoleName: roleName })));
  deps.logger.info('deleted role', { role: roleName });
}

/**
 * GetRole + ListRoleTags, then the ownership rule. Returns undefined when the role does not exist,
 * its boundary when it is ours; throws NotOwnedError when it exists and is not this deployment's.
 */
async function assertOwned(
  deps: ReconcilerDeps,
  roleName: string,
  config: ReconcilerConfig,
  purpose: string,
): Promise<{ permissionsBoundaryArn?: string } | undefined> {
  const current = await readRole(deps, roleName);
  if (!current) return undefined;
  const { path, permissionsBoundaryArn } = current;
  const tags = await readTags(deps, roleName);
  if (!tags) return undefined;
  if (!isOwnedRole({ path, tags }, config)) {
    throw new NotOwnedError(
      `cannot ${purpose} role ${roleName}: it exists at path ${path} without this deployment's ownership tags ` +
        `(${TAG_MANAGED_BY}=${TAG_MANAGED_BY_VALUE}, ${TAG_STAGE}=${config.stage}) under ${config.rolePath}`,
    );
  }
  return permissionsBoundaryArn === undefined ? {} : { permissionsBoundaryArn };
}

/** IAM's `EntityAlreadyExists` (the SDK v3 names the modeled exception `EntityAlreadyExistsException`). */
function isAlreadyExists(error: unknown): boolean {
  const code = awsErrorCode(error);
  return code === 'EntityAlreadyExists' || code === 'EntityAlreadyExistsException';
}

function isMalformedPolicy(error: unknown): boolean {
  const code = awsErrorCode(error);
  return code === 'MalformedPolicyDocument' || code === 'MalformedPolicyDocumentException';
}

function toTagList(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Key, Value]) => ({ Key, Value }));
}
