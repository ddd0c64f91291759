import {
  hasOwnershipTags,
  isOwnedRole,
  isPodIdentityRole,
  TAG_BINDING,
  TAG_CLUSTER,
  TAG_REGION,
} from '../ownership';
import type {
  AccessMode,
  Action,
  ClusterInfo,
  DesiredRole,
  DesiredState,
  Discovery,
  DriftFinding,
  ObservedRole,
  ObservedState,
  Plan,
  ReconcilerConfig,
  RegionScan,
  SkippedTarget,
  TakenName,
} from '../types';
import { planAssociations, targetKey } from './associations';
import { planForwarding } from './forwarding';
import { planParameters } from './parameters';
import { policiesEqual } from './policy-compare';

export const NAME_TAKEN_REASON = 'role name taken by a role not owned by this deployment';

/**
 * Terraform-style plan, pure: what to do so that the owned roles match the desired ones.
 * - a desired role that is missing → `create` (+ `put-policy` for each inline policy);
 * - an owned desired role → `update-trust`, `set-boundary`, `tag`, `delete-policy`, `put-policy` for what
 *   differs (policies compared semantically), or a single `no-op`;
 * - a desired name held by a role we do not own → skipped, never touched;
 * - an owned role that is not desired → `delete` only when safe (see `pruneReason`), subject to `prune`
 *   and the deletion guard; otherwise left alone.
 * Linear in the number of roles (maps, no nested scans).
 */
export function plan(
  desired: DesiredState,
  observed: ObservedState,
  discovery: Discovery,
  config: ReconcilerConfig,
): Plan {
  const owned = new Map<string, ObservedRole>();
  // IAM role names are unique case-insensitively: `Irsa-x` blocks `irsa-x`.
  const unowned = new Map<string, TakenName>(observed.takenNames ?? []);
  for (const role of observed.roles) {
    if (isOwnedRole(role, config)) owned.set(role.roleName, role);
    else unowned.set(role.roleName.toLowerCase(), { roleName: role.roleName, path: role.path });
  }
  const actions: Action[] = [];
  const skipped: SkippedTarget[] = [...desired.skipped];
  const drift: DriftFinding[] = [];

  const existingProviders = new Set([...observed.oidcProviderArns, ...discovery.oidcProviderArns]);
  for (const provider of desired.oidcProviders) {
    if (!existingProviders.has(provider.arn)) actions.push({ kind: 'create-oidc-provider', provider });
  }

  const desiredNames = new Set<string>();
  const desiredByTarget = new Map<string, string>();
  const podRoleByBinding = new Map<string, string>();
  let creates = 0;
  for (const role of desired.roles) {
    desiredNames.add(role.roleName);
    const current = owned.get(role.roleName);
    const holder = current === undefined ? unowned.get(role.roleName.toLowerCase()) : undefined;
    if (holder) {
      // Not registered as the target's role: an older owned role for the target must not be pruned
      // in favour of one that can not be created.
      skipped.push({
        region: role.mode === 'irsa' ? role.region : '',
        clusterName: role.mode === 'irsa' ? role.clusterName : '',
        bindingName: role.bindingName,
        reason: `${NAME_TAKEN_REASON}: ${holder.path}${holder.roleName}`,
      });
      continue;
    }
    if (role.mode === 'irsa') {
      desiredByTarget.set(targetKey(role.region, role.clusterName, role.bindingName), role.roleName);
    } else {
      podRoleByBinding.set(role.bindingName, role.roleName);
    }
    if (current) {
      const changes = diffRole(role, current, config);
      // A Pod Identity trust lists the selected clusters: never narrowed on an incomplete scan.
      const keep =
        role.mode === 'pod-identity' && discovery.regions.some((scan) => scan.status !== 'complete')
          ? changes.filter((action) => action.kind !== 'update-trust')
          : changes;
      actions.push(...(keep.length > 0 ? keep : [{ kind: 'no-op' as const, roleName: role.roleName }]));
      drift.push(...driftOf(current, config));
    } else {
      creates++;
      actions.push({ kind: 'create', role });
      for (const [policyName, document] of Object.entries(role.inlinePolicies)) {
        actions.push({ kind: 'put-policy', roleName: role.roleName, policyName, document });
      }
    }
  }

  // An association names its role: only one this deployment owns or creates now may be named.
  const usableRoles = new Set([...owned.keys(), ...podRoleByBinding.values()]);
  const associations = planAssociations(
    { ...desired, associations: desired.associations.filter((item) => usableRoles.has(item.roleName)) },
    observed,
    discovery,
    config,
    [...owned.values()],
  );
  actions.push(...associations.actions);
  skipped.push(...associations.skipped);

  const context: PruneContext = {
    config,
    scans: new Map(discovery.regions.map((scan) => [scan.region, scan])),
    clusters: indexClusters(discovery.regions),
    bindings: new Map(config.bindings.map((binding) => [binding.name, binding.mode])),
    desiredByTarget,
    podRoleByBinding,
    replacedIrsaTargets: associations.replacedIrsaTargets,
    usedRoleArns: associations.usedRoleArns,
    associationsComplete: associations.complete,
  };
  const deletes: Action[] = [...associations.deletes];
  for (const role of owned.values()) {
    if (desiredNames.has(role.roleName)) continue;
    // Reported on every owned role; an undesired one is detached only by its delete.
    drift.push(...driftOf(role, { ...config, detachUnmanagedPolicies: false }));
    const verdict = pruneVerdict(role, context);
    if (verdict.delete) deletes.push({ kind: 'delete', roleName: role.roleName, reason: verdict.reason });
    else if (verdict.report) skipped.push(verdict.report);
  }

  const forwarding = planForwarding(config, observed.forwarding);
  actions.push(
    ...forwarding.actions.filter((action) => config.prune || action.kind !== 'delete-forwarding-rule'),
  );
  skipped.push(...forwarding.skipped);

  const result: Plan = { actions, skipped, drift };
  const publish = (applied: readonly Action[]) => {
    const deleted = new Set(applied.flatMap((action) => (action.kind === 'delete' ? [action.roleName] : [])));
    const remaining = [...owned.values()].filter((role) => !deleted.has(role.roleName));
    actions.push(...planParameters(desired, observed, discovery, config, remaining));
    return result;
  };
  if (deletes.length === 0 || !config.prune) return publish([]);
  // Counted once this run's creates are done, so a blocked prune stays blocked on the next run instead
  // of slipping through because the roles created meanwhile grew the base. Roles and associations
  // are counted together.
  const ownedAfterCreates = owned.size + creates + associations.owned + associations.creates;
  if (deletes.length > allowedDeletes(ownedAfterCreates, config.maxPruneFraction) && !config.forcePrune) {
    result.pruneBlocked = {
      wouldDelete: deletes.length,
      owned: ownedAfterCreates,
      maxPruneFraction: config.maxPruneFraction,
    };
    return publish([]);
  }
  actions.push(...deletes);
  return publish(deletes);
}

/**
 * The deletion guard: at most `floor(maxPruneFraction × owned)` deletions per run, and never fewer
 * than one, so the last role of the last cluster can still go (with a single owned role, any fraction
 * would otherwise block it forever). `owned` counts the owned roles once the run's creates are done.
 * More than that needs `forcePrune`.
 */
export function allowedDeletes(ownedCount: number, maxPruneFraction: number): number {
  return Math.max(1, Math.floor(maxPruneFraction * ownedCount));
}

/**
 * Deletes every owned association (where they could be read) and every owned role (stack deletion).
 * No guard: removing everything is the point.
 */
export function teardownPlan(observed: ObservedState, config: ReconcilerConfig): Plan {
  const reason = 'teardown: the deployment is being removed';
  const actions: Action[] = [];
  for (const view of observed.associations?.values() ?? []) {
    if (view.status !== 'complete') continue;
    for (const association of view.associations) {
      if (association.ownerArn !== undefined || !hasOwnershipTags(association.tags, config.stage)) continue;
      actions.push({
        kind: 'delete-association',
        association: {
          region: association.region,
          clusterName: association.clusterName,
          namespace: association.namespace,
          serviceAccount: association.serviceAccount,
          bindingName: association.tags[TAG_BINDING] ?? '',
        },
        associationId: association.associationId,
        reason,
      });
    }
  }
  for (const role of observed.roles) {
    if (isOwnedRole(role, config)) actions.push({ kind: 'delete', roleName: role.roleName, reason });
  }
  // With forwarding off, every owned forwarding rule is one to delete.
  const forwarding = planForwarding({ ...config, eventForwarding: null }, observed.forwarding);
  for (const action of forwarding.actions) {
    if (action.kind === 'delete-forwarding-rule') actions.push({ ...action, reason });
  }
  return { actions, skipped: [], drift: [] };
}

/**
 * Managed policies attached to an owned role: the reconciler attaches none, so each one is permissions
 * someone added by hand, beyond the configuration. Always reported; detached when configured.
 */
function driftOf(role: ObservedRole, config: ReconcilerConfig): DriftFinding[] {
  return role.attachedPolicyArns.map((policyArn) => ({
    roleName: role.roleName,
    policyArn,
    detach: config.detachUnmanagedPolicies,
  }));
}

/** The actions that bring one owned role to its desired state; `no-op` when nothing differs. */
export function diffRole(
  desired: DesiredRole,
  current: ObservedRole,
  config: Pick<ReconcilerConfig, 'detachUnmanagedPolicies'> = { detachUnmanagedPolicies: false },
): Action[] {
  const roleName = desired.roleName;
  const actions: Action[] = [];
  if (!policiesEqual(desired.trustPolicy, current.trustPolicy)) {
    actions.push({ kind: 'update-trust', roleName, trustPolicy: desired.trustPolicy });
  }
  if (desired.permissionsBoundaryArn !== current.permissionsBoundaryArn) {
    actions.push({ kind: 'set-boundary', roleName, permissionsBoundaryArn: desired.permissionsBoundaryArn });
  }
  if (config.detachUnmanagedPolicies) {
    for (const policyArn of current.attachedPolicyArns)
      actions.push({ kind: 'detach-policy', roleName, policyArn });
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired.tags)) {
    if (current.tags[key] !== value) tags[key] = value;
  }
  if (Object.keys(tags).length > 0) actions.push({ kind: 'tag', roleName, tags });
  for (const policyName of Object.keys(current.inlinePolicies)) {
    if (!Object.hasOwn(desired.inlinePolicies, policyName)) {
      actions.push({ kind: 'delete-policy', roleName, policyName });
    }
  }
  for (const [policyName, document] of Object.entries(desired.inlinePolicies)) {
    const existing = current.inlinePolicies[policyName];
    if (existing === undefined || !policiesEqual(existing, document)) {
      actions.push({ kind: 'put-policy', roleName, policyName, document });
    }
  }
  return actions.length > 0 ? actions : [{ kind: 'no-op', roleName }];
}

interface PruneContext {
  config: ReconcilerConfig;
  scans: ReadonlyMap<string, RegionScan>;
  clusters: ReadonlyMap<string, ClusterInfo>;
  /** Configured bindings and their modes. */
  bindings: ReadonlyMap<string, AccessMode>;
  desiredByTarget: ReadonlyMap<string, string>;
  /** A pod-identity binding's desired role name. */
  podRoleByBinding: ReadonlyMap<string, string>;
  /** IRSA targets whose cluster already has the binding's association (seen before this run). */
  replacedIrsaTargets: ReadonlySet<string>;
  usedRoleArns: ReadonlySet<string>;
  associationsComplete: boolean;
}

type PruneVerdict = { delete: true; reason: string } | { delete: false; report?: SkippedTarget };

/**
 * Whether an owned, undesired role may be deleted. Only when its cluster is confirmed gone (absent from
 * a completely scanned region, or DELETING), its binding was removed from the configuration, or another
 * role now serves its (region, cluster, binding). Never in a region whose scan is unknown or that is
 * not scanned; never for a cluster that is present but skipped (opted out, not selected, not ACTIVE,
 * no OIDC provider): those roles are left as they are.
 */
function pruneVerdict(role: ObservedRole, context: PruneContext): PruneVerdict {
  if (isPodIdentityRole(role)) return podIdentityPruneVerdict(role, context);
  const region = role.tags[TAG_REGION];
  const clusterName = role.tags[TAG_CLUSTER];
  const bindingName = role.tags[TAG_BINDING];
  if (!region || !clusterName || !bindingName) {
    return {
      delete: false,
      report: {
        region: region ?? '',
        clusterName: clusterName ?? '',
        reason: `owned role ${role.roleName} lacks its region/cluster/binding tags; left alone`,
      },
    };
  }
  const scan = context.scans.get(region);
  if (scan === undefined) {
    return {
      delete: false,
      report: {
        region,
        clusterName,
        bindingName,
        reason: `owned role ${role.roleName} is in region ${region}, which was not scanned; left alone`,
      },
    };
  }
  if (scan.status !== 'complete') return { delete: false };
  const cluster = context.clusters.get(clusterKey(region, clusterName));
  if (cluster === undefined) {
    return { delete: true, reason: `cluster ${clusterName} no longer exists in ${region}` };
  }
  if (cluster.status === 'DELETING') return { delete: true, reason: `cluster ${clusterName} is DELETING` };
  if (!context.bindings.has(bindingName)) {
    return { delete: true, reason: `binding ${bindingName} was removed from the configuration` };
  }
  if (context.replacedIrsaTargets.has(targetKey(region, clusterName, bindingName))) {
    return {
      delete: true,
      reason: `binding ${bindingName} moved to pod-identity and the cluster's association for it exists`,
    };
  }
  const successor = context.desiredByTarget.get(targetKey(region, clusterName, bindingName));
  if (successor !== undefined) {
    return { delete: true, reason: `superseded by role ${successor} for the same cluster and binding` };
  }
  return { delete: false };
}

/**
 * A Pod Identity role that is not desired is deleted only once no association uses it, every region
 * was scanned and every cluster's associations were read: when its binding was removed or moved to
 * irsa, or another role now serves its binding. A binding whose role could not be rendered keeps it.
 */
function podIdentityPruneVerdict(role: ObservedRole, context: PruneContext): PruneVerdict {
  const bindingName = role.tags[TAG_BINDING] ?? '';
  if (!context.associationsComplete) return { delete: false };
  if (context.usedRoleArns.has(role.arn)) {
    return {
      delete: false,
      report: {
        region: '',
        clusterName: '',
        bindingName,
        reason: `owned Pod Identity role ${role.roleName} is still used by an association; kept`,
      },
    };
  }
  const mode = context.bindings.get(bindingName);
  if (mode === undefined) {
    return { delete: true, reason: `binding ${bindingName} was removed and no association uses the role` };
  }
  if (mode === 'irsa') {
    return { delete: true, reason: `binding ${bindingName} moved to irsa and no association uses the role` };
  }
  const successor = context.podRoleByBinding.get(bindingName);
  if (successor !== undefined) {
    return { delete: true, reason: `superseded by role ${successor} for binding ${bindingName}` };
  }
  return { delete: false };
}

function indexClusters(scans: readonly RegionScan[]): Map<string, ClusterInfo> {
  const clusters = new Map<string, ClusterInfo>();
  for (const scan of scans) {
    for (const cluster of scan.clusters) clusters.set(clusterKey(scan.region, cluster.name), cluster);
  }
  return clusters;
}

function clusterKey(region: string, clusterName: string): string {
  return JSON.stringify([region, clusterName]);
}
