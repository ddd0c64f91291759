import { describeError, toAwsCallError } from '../errors';
import { apply } from './apply';
import { BUILTIN_TEMPLATES } from './config/catalog';
import { podIdentityRoleNameFor, roleNameFor } from './config/naming';
import type { ReconcilerDeps } from './deps';
import { observeAssociations, pinnedClusterArns } from './observe/associations';
import { observeRolesByName } from './observe/by-name';
import { describeCluster, discover, discoverAccount } from './observe/discovery';
import { observeForwarding } from './observe/forwarding';
import { listOidcProviderArns } from './observe/iam-roles';
import { observe } from './observe/observe';
import { observeClusterParameters, observeParameters } from './observe/parameters';
import { isPodIdentityRole } from './ownership';
import { desiredState } from './plan/desired';
import { NAME_TAKEN_REASON, plan, teardownPlan } from './plan/plan';
import { computeCounts, targetOf } from './report';
import type {
  AccountInfo,
  ActionResult,
  Discovery,
  ObservedForwardingRule,
  Plan,
  ReconcileReport,
  ReconcilerConfig,
  RegionReport,
  SkippedTarget,
} from './types';

/** Changes listed in the summary log line; the report itself always has all of them. */
const MAX_LOGGED_CHANGES = 100;

export type { ReconcilerDeps } from './deps';

/**
 * One level-based pass: discover clusters → observe owned roles → desired state → plan → apply
 * (or, in dry run, only plan). Running it twice with nothing changed makes no write the second
 * time. Global read failures (identity, role listing) throw; per-region and per-action failures
 * are in the report, with `failed` set.
 */
export async function reconcile(deps: ReconcilerDeps, config: ReconcilerConfig): Promise<ReconcileReport> {
  const before = deps.clients.calls.snapshot();
  const discovery = await discover(deps, config);
  const roles = await observe(deps, config, { oidcProviderArns: discovery.oidcProviderArns });
  const desired = desiredState(config, discovery);
  const associations = await observeAssociations(deps, config, discovery, desired, roles.roles);
  const parameters = await observeParameters(deps, config);
  const forwarding = await observeForwarding(deps, config);
  logUnreadForwarding(deps, config, forwarding);
  const observed = {
    ...roles,
    ...(associations ? { associations } : {}),
    ...(parameters ? { parameters } : {}),
    ...(forwarding ? { forwarding } : {}),
  };
  const thePlan = plan(desired, observed, discovery, config);
  const results = await execute(deps, thePlan, config);
  const regions = regionReports(discovery);
  return finish(
    deps,
    config,
    { account: discovery.account, regions, plan: thePlan, results, before },
    'reconcile',
  );
}

/** The cluster a single-cluster run is about. */
export interface ClusterTarget {
  region: string;
  name: string;
}

/**
 * One cluster only, for an event about it (CreateCluster, DeleteCluster): the same desired state, plan
 * and apply as the full run, on a discovery of that one cluster and an observation of its roles by
 * name (its IRSA roles, and the pod-identity bindings' fleet roles), its associations and its published
 * ARNs, so its cost is that cluster's few calls whatever the size of the fleet. Its safety rules are the full
 * run's, scoped to the cluster: only owned roles and associations change; a cluster that cannot be
 * described prunes nothing; the roles deleted are at most that cluster's (one per binding), so the
 * account-wide deletion guard is the full run's. A Pod Identity role serves the whole fleet, so here
 * it is only widened: its trust keeps the clusters it is pinned to and gains this one; one that does
 * not exist yet is left to the full run, and so is every association delete. The full run stays the
 * source of truth (a removed binding's roles, for one, are pruned there).
 */
export async function reconcileCluster(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  target: ClusterTarget,
): Promise<ReconcileReport> {
  const before = deps.clients.calls.snapshot();
  const account = await discoverAccount(deps);
  if (!config.regions.includes(target.region)) {
    // A region this deployment does not scan: nothing in it is its business.
    const skipped = [
      { region: target.region, clusterName: target.name, reason: 'region is not scanned by this deployment' },
    ];
    const idle: Plan = { actions: [], skipped, drift: [] };
    return finish(
      deps,
      config,
      { account, regions: [], plan: idle, results: [], before },
      'reconcile-cluster',
    );
  }
  let scan: Discovery['regions'][number];
  try {
    const cluster = await describeCluster(deps, target.region, target.name);
    scan = { region: target.region, status: 'complete', clusters: cluster ? [cluster] : [] };
  } catch (error) {
    const reason = describeError(
      toAwsCallError(`EKS DescribeCluster ${target.name} in ${target.region}`, error),
    );
    scan = { region: target.region, status: 'unknown', clusters: [], error: reason };
  }
  const discovery: Discovery = {
    account,
    regions: [scan],
    oidcProviderArns: await listOidcProviderArns(deps),
  };
  const podRoleNames = new Map(
    config.bindings
      .filter((binding) => binding.mode === 'pod-identity')
      .map((binding) => [
        binding.name,
        podIdentityRoleNameFor(config.roleNamePrefix, binding.name, config.stage),
      ]),
  );
  const names = [
    ...config.bindings
      .filter((binding) => binding.mode === 'irsa')
      .map((binding) =>
        roleNameFor(config.roleNamePrefix, target.region, target.name, binding.name, config.stage),
      ),
    ...podRoleNames.values(),
  ];
  const { roles, takenNames } =
    scan.status === 'complete'
      ? await observeRolesByName(deps, config, names)
      : { roles: [], takenNames: new Map() };
  const podRoles = new Map(roles.filter(isPodIdentityRole).map((role) => [role.roleName, role]));
  const pins = new Map<string, string[] | 'unpinned'>();
  const waiting: SkippedTarget[] = [];
  for (const [bindingName, roleName] of podRoleNames) {
    const role = podRoles.get(roleName);
    if (role) pins.set(bindingName, pinnedClusterArns(role));
    else
      waiting.push({
        region: target.region,
        clusterName: target.name,
        bindingName,
        reason: `Pod Identity role ${roleName} is not there yet: the full run makes it, then this cluster's association`,
      });
  }
  const scoped = {
    ...config,
    bindings: config.bindings.filter((binding) => binding.mode === 'irsa' || pins.has(binding.name)),
  };
  const desired = desiredState(scoped, discovery, BUILTIN_TEMPLATES, pins);
  const associations = await observeAssociations(deps, config, discovery, desired, roles);
  const parameters =
    scan.status === 'complete'
      ? await observeClusterParameters(deps, config, target.region, target.name)
      : undefined;
  const planned = plan(
    desired,
    {
      roles,
      takenNames,
      oidcProviderArns: discovery.oidcProviderArns,
      ...(associations ? { associations } : {}),
      ...(parameters ? { parameters } : {}),
    },
    discovery,
    // At most one cluster's roles can be deleted here: the guard over all owned roles is the full run's.
    { ...config, maxPruneFraction: 1 },
  );
  const thePlan: Plan = {
    ...planned,
    actions: planned.actions.filter((action) => action.kind !== 'delete-association'),
    skipped: [...waiting, ...planned.skipped],
  };
  const results = await execute(deps, thePlan, config);
  return finish(
    deps,
    config,
    { account, regions: regionReports(discovery), plan: thePlan, results, before },
    'reconcile-cluster',
  );
}

/**
 * Deletes every role this deployment owns (its path, owner tag and stage tag), and, when it owns Pod
 * Identity roles, every association it owns in the scanned regions first: the stack's Delete.
 */
export async function teardown(deps: ReconcilerDeps, config: ReconcilerConfig): Promise<ReconcileReport> {
  const before = deps.clients.calls.snapshot();
  const roles = await observe(deps, config, { oidcProviderArns: [] });
  let account: AccountInfo;
  let regions: RegionReport[] = [];
  let observed = roles;
  if (roles.roles.some(isPodIdentityRole)) {
    const discovery = await discover(deps, config);
    account = discovery.account;
    regions = regionReports(discovery);
    const noBindings = { ...config, bindings: [] };
    const associations = await observeAssociations(
      deps,
      noBindings,
      discovery,
      { roles: [], oidcProviders: [], associations: [], parameters: [], skipped: [] },
      roles.roles,
    );
    observed = associations ? { ...roles, associations } : roles;
  } else {
    account = await discoverAccount(deps);
  }
  const forwarding = await observeForwarding(deps, config);
  if (forwarding) observed = { ...observed, forwarding };
  const thePlan = teardownPlan(observed, config);
  const results = await execute(deps, thePlan, config);
  return finish(deps, config, { account, regions, plan: thePlan, results, before }, 'teardown');
}

/**
 * A region that is not scanned and whose forwarding rule could not be read (an SCP, say) is only
 * logged: its rule, if any, stays until it can be read. A scanned region's is in the report.
 */
function logUnreadForwarding(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  forwarding: readonly ObservedForwardingRule[] | undefined,
): void {
  const unread = (forwarding ?? []).flatMap((rule) =>
    rule.status === 'unknown' && !config.regions.includes(rule.region)
      ? [{ region: rule.region, error: rule.error }]
      : [],
  );
  if (unread.length > 0) {
    deps.logger.warn('forwarding rules could not be read in regions that are not scanned; left as they are', {
      regions: unread,
    });
  }
}

function regionReports(discovery: Awaited<ReturnType<typeof discover>>): RegionReport[] {
  return discovery.regions.map((scan) => ({
    region: scan.region,
    status: scan.status,
    clusters: scan.clusters.length,
    ...(scan.status === 'unknown' ? { error: scan.error } : {}),
  }));
}

async function execute(
  deps: ReconcilerDeps,
  thePlan: Plan,
  config: ReconcilerConfig,
): Promise<ActionResult[]> {
  if (!config.dryRun) return apply(deps, thePlan, config);
  return thePlan.actions.map((action) => ({ action, outcome: { status: 'planned' } }));
}

interface RunOutcome {
  account: AccountInfo;
  regions: RegionReport[];
  plan: Plan;
  results: ActionResult[];
  before: Record<string, number>;
}

function finish(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  run: RunOutcome,
  operation: string,
): ReconcileReport {
  const counts = computeCounts(run.results, run.plan.skipped);
  const report: ReconcileReport = {
    dryRun: config.dryRun,
    account: run.account,
    regions: run.regions,
    results: run.results,
    skipped: run.plan.skipped,
    drift: run.plan.drift,
    ...(run.plan.pruneBlocked ? { pruneBlocked: run.plan.pruneBlocked } : {}),
    counts,
    apiCalls: callsSince(run.before, deps.clients.calls.snapshot()),
    failed: run.regions.some((region) => region.status === 'unknown') || counts.failed > 0,
  };
  // Every change (not the no-ops), capped so one log line stays readable: an audit trail in CloudWatch.
  const changes = run.results
    .filter(({ action }) => action.kind !== 'no-op')
    .map(({ action, outcome }) => ({
      action: action.kind,
      target: targetOf(action),
      outcome: outcome.status,
      ...(outcome.status === 'failed' ? { error: outcome.error, retryable: outcome.retryable } : {}),
    }));
  const summary = {
    operation,
    dryRun: report.dryRun,
    counts,
    regions: report.regions,
    apiCalls: Object.values(report.apiCalls).reduce((sum, count) => sum + count, 0),
    ...(report.pruneBlocked ? { pruneBlocked: report.pruneBlocked } : {}),
    ...(report.drift.length > 0 ? { drift: report.drift } : {}),
    ...(changes.length > 0 ? { changes: changes.slice(0, MAX_LOGGED_CHANGES) } : {}),
    ...(changes.length > MAX_LOGGED_CHANGES ? { changesNotLogged: changes.length - MAX_LOGGED_CHANGES } : {}),
  };
  const taken = run.plan.skipped.filter((skip) => skip.reason.startsWith(NAME_TAKEN_REASON));
  if (taken.length > 0) {
    deps.logger.warn(
      'desired role names are held by roles this deployment does not own: those targets are skipped',
      {
        skipped: taken,
      },
    );
  }
  if (report.failed) deps.logger.error(`${operation} finished with failures`, summary);
  else if (report.pruneBlocked)
    deps.logger.warn(`${operation} finished; prune blocked by the deletion guard`, summary);
  else if (report.drift.some((finding) => !finding.detach))
    deps.logger.warn(
      `${operation} finished; managed policies attached by hand to owned roles (set detachUnmanagedPolicies to detach them)`,
      summary,
    );
  else deps.logger.info(`${operation} finished`, summary);
  return report;
}

/** The per-operation call counts of this run: a delta, so a shared counter can serve many runs. */
function callsSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, count]) => [key, count - (before[key] ?? 0)] as const)
      .filter(([, count]) => count > 0),
  );
}
