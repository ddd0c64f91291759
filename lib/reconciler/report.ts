import { ReconcileFailedError } from '../errors';
import type { MetricsSink } from '../observability/metrics';
import { NAME_TAKEN_REASON } from './plan/plan';
import type { Action, ActionResult, ReconcileReport, ReportCounts, SkippedTarget } from './types';

type Category = 'created' | 'updated' | 'deleted' | 'unchanged';

const CATEGORY: Record<Action['kind'], Category> = {
  'create-oidc-provider': 'created',
  create: 'created',
  'update-trust': 'updated',
  'put-policy': 'updated',
  'delete-policy': 'updated',
  tag: 'updated',
  'set-boundary': 'updated',
  'detach-policy': 'updated',
  delete: 'deleted',
  'no-op': 'unchanged',
  'install-agent': 'created',
  'create-association': 'created',
  'update-association': 'updated',
  'delete-association': 'deleted',
  'association-no-op': 'unchanged',
  'put-parameter': 'updated',
  'delete-parameter': 'deleted',
  'put-forwarding-rule': 'updated',
  'delete-forwarding-rule': 'deleted',
  'forwarding-no-op': 'unchanged',
};

/**
 * The role name an action is about, the issuer URL for an OIDC provider, `<region>/<cluster>
 * <namespace>/<serviceAccount>` for an association, `<region>/<cluster> eks-pod-identity-agent` for
 * the add-on.
 */
export function targetOf(action: Action): string {
  switch (action.kind) {
    case 'create-oidc-provider':
      return action.provider.issuerUrl;
    case 'create':
      return action.role.roleName;
    case 'install-agent':
      return `${action.region}/${action.clusterName} eks-pod-identity-agent`;
    case 'put-parameter':
      return `${action.parameter.region} ${action.parameter.name}`;
    case 'delete-parameter':
      return `${action.region} ${action.name}`;
    case 'put-forwarding-rule':
      return `${action.rule.region} ${action.rule.name}`;
    case 'delete-forwarding-rule':
    case 'forwarding-no-op':
      return `${action.region} ${action.name}`;
    case 'create-association':
    case 'update-association':
    case 'delete-association':
    case 'association-no-op': {
      const { region, clusterName, namespace, serviceAccount } = action.association;
      return `${region}/${clusterName} ${namespace}/${serviceAccount}`;
    }
    default:
      return action.roleName;
  }
}

/** What kind of resource an action is about, for counting per resource. */
function resourceOf(action: Action): string {
  switch (action.kind) {
    case 'create-oidc-provider':
      return 'provider';
    case 'install-agent':
      return 'addon';
    case 'put-parameter':
    case 'delete-parameter':
      return 'parameter';
    case 'put-forwarding-rule':
    case 'delete-forwarding-rule':
    case 'forwarding-no-op':
      return 'forwarding-rule';
    case 'create-association':
    case 'update-association':
    case 'delete-association':
    case 'association-no-op':
      return 'association';
    default:
      return 'role';
  }
}

/**
 * Counts per resource, not per call: a role created with three inline policies is one `created`;
 * a role whose trust and one policy were repaired is one `updated`. A resource with any failed
 * action counts as `failed` only. Planned (dry-run) outcomes count as what they would do.
 */
export function computeCounts(
  results: readonly ActionResult[],
  skipped: readonly SkippedTarget[],
): ReportCounts {
  const byTarget = new Map<string, { categories: Set<Category>; failed: boolean }>();
  for (const { action, outcome } of results) {
    const key = `${resourceOf(action)}:${targetOf(action)}`;
    const entry = byTarget.get(key) ?? { categories: new Set<Category>(), failed: false };
    entry.categories.add(CATEGORY[action.kind]);
    if (outcome.status === 'failed') entry.failed = true;
    byTarget.set(key, entry);
  }
  const counts: ReportCounts = {
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    skipped: skipped.length,
    failed: 0,
  };
  for (const { categories, failed } of byTarget.values()) {
    if (failed) counts.failed++;
    else if (categories.has('deleted')) counts.deleted++;
    else if (categories.has('created')) counts.created++;
    else if (categories.has('updated')) counts.updated++;
    else counts.unchanged++;
  }
  return counts;
}

/** What an action changes, in a few words. */
function detailOf(action: Action): string {
  switch (action.kind) {
    case 'create-oidc-provider':
      return `${action.provider.region}/${action.provider.clusterName}`;
    case 'create':
      return action.role.mode === 'irsa'
        ? `${action.role.region}/${action.role.clusterName} ${action.role.bindingName}`
        : `pod-identity ${action.role.bindingName}`;
    case 'create-association':
      return `${action.association.bindingName} → ${action.association.roleName}`;
    case 'update-association':
      return `${action.associationId} → ${action.roleName}`;
    case 'delete-association':
      return `${action.associationId}: ${action.reason}`;
    case 'put-parameter':
      return action.parameter.value;
    case 'delete-parameter':
      return action.reason;
    case 'put-forwarding-rule':
      return `${action.create ? 'create' : 'repair'} → ${action.rule.busArn}`;
    case 'delete-forwarding-rule':
      return action.reason;
    case 'put-policy':
    case 'delete-policy':
      return action.policyName;
    case 'tag':
      return Object.keys(action.tags).sort().join(', ');
    case 'set-boundary':
      return action.permissionsBoundaryArn;
    case 'detach-policy':
      return action.policyArn;
    case 'delete':
      return action.reason;
    default:
      return '';
  }
}

function outcomeOf(result: ActionResult): string {
  const { outcome } = result;
  if (outcome.status === 'failed')
    return `FAILED${outcome.retryable ? ' (retryable)' : ''}: ${outcome.error}`;
  return outcome.status;
}

function table(headers: readonly string[], rows: readonly string[][]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}

/** A fixed-width text rendering of a report: actions, skipped targets, counts, regions, API calls. */
export function formatReportTable(report: ReconcileReport): string {
  const lines: string[] = [];
  const mode = report.dryRun ? 'DRY RUN (nothing written)' : 'applied';
  lines.push(`Account ${report.account.accountId} (${report.account.partition}) — ${mode}`, '');

  const actionRows = report.results.map((result) => [
    result.action.kind,
    targetOf(result.action),
    detailOf(result.action),
    outcomeOf(result),
  ]);
  lines.push(
    ...(actionRows.length > 0
      ? table(['ACTION', 'ROLE', 'TARGET', 'OUTCOME'], actionRows)
      : ['(no actions)']),
  );

  if (report.skipped.length > 0) {
    lines.push('', 'Skipped:');
    const rows = report.skipped.map((skip) => [
      skip.region,
      skip.clusterName,
      skip.bindingName ?? '*',
      skip.reason,
    ]);
    lines.push(...table(['REGION', 'CLUSTER', 'BINDING', 'REASON'], rows));
  }
  if (report.drift.length > 0) {
    lines.push('', 'Managed policies attached by hand to owned roles (drift):');
    const rows = report.drift.map((finding) => [
      finding.roleName,
      finding.policyArn,
      finding.detach ? 'detached by this run' : 'reported only (set detachUnmanagedPolicies to detach)',
    ]);
    lines.push(...table(['ROLE', 'POLICY', 'WHAT HAPPENS'], rows));
  }
  if (report.pruneBlocked) {
    const { wouldDelete, owned, maxPruneFraction } = report.pruneBlocked;
    lines.push(
      '',
      `Prune blocked by the deletion guard: ${wouldDelete} of ${owned} owned roles would be deleted ` +
        `(limit ${Math.round(maxPruneFraction * 100)}%); set forcePrune to allow it.`,
    );
  }

  const { counts } = report;
  lines.push(
    '',
    `Counts: created ${counts.created}, updated ${counts.updated}, deleted ${counts.deleted}, ` +
      `unchanged ${counts.unchanged}, skipped ${counts.skipped}, failed ${counts.failed}`,
  );
  if (report.regions.length > 0) {
    const rows = report.regions.map((region) => [
      region.region,
      region.status,
      String(region.clusters),
      region.error ?? '',
    ]);
    lines.push('', ...table(['REGION', 'SCAN', 'CLUSTERS', 'ERROR'], rows));
  }

  const calls = Object.entries(report.apiCalls);
  const total = calls.reduce((sum, [, count]) => sum + count, 0);
  lines.push('', `API calls: ${total}`);
  lines.push(...calls.map(([operation, count]) => `  ${operation.padEnd(40)} ${String(count).padStart(5)}`));
  lines.push('', report.failed ? 'Result: FAILED' : 'Result: OK');
  return lines.join('\n');
}

/** Short text of what failed in a report: unknown regions first, then failed actions. */
export function describeFailures(
  report: ReconcileReport,
  options: { includeRegions?: boolean } = {},
): string {
  const parts: string[] = [];
  if (options.includeRegions ?? true) {
    for (const region of report.regions) {
      if (region.status === 'unknown')
        parts.push(`region ${region.region} unknown (${region.error ?? 'scan failed'})`);
    }
  }
  for (const { action, outcome } of report.results) {
    if (outcome.status === 'failed') parts.push(`${describeAction(action)} failed (${outcome.error})`);
  }
  return parts.length > 0 ? parts.join('; ') : 'no failure recorded';
}

/** Whether a teardown (stack delete) left something behind: only failed actions count there. */
export function hasFailedActions(report: ReconcileReport): boolean {
  return report.results.some(({ outcome }) => outcome.status === 'failed');
}

export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'create-oidc-provider':
      return `create-oidc-provider ${action.provider.issuerUrl}`;
    case 'create':
      return `create ${action.role.roleName}`;
    case 'put-policy':
    case 'delete-policy':
      return `${action.kind} ${action.roleName}/${action.policyName}`;
    case 'install-agent':
    case 'create-association':
    case 'update-association':
    case 'delete-association':
    case 'association-no-op':
    case 'put-parameter':
    case 'delete-parameter':
    case 'put-forwarding-rule':
    case 'delete-forwarding-rule':
    case 'forwarding-no-op':
      return `${action.kind} ${targetOf(action)}`;
    default:
      return `${action.kind} ${action.roleName}`;
  }
}

/** The error a run with failures ends in: retryable only when every failed action was. */
export function failureOf(report: ReconcileReport): ReconcileFailedError {
  return new ReconcileFailedError(`Reconcile finished with failures: ${describeFailures(report)}`, {
    retryable: failuresAreRetryable(report),
  });
}

function failuresAreRetryable(report: ReconcileReport): boolean {
  return report.results.every(({ outcome }) => outcome.status !== 'failed' || outcome.retryable);
}

/**
 * A run's metrics: what changed, what was held back or could not be seen, and what it cost. The stack's
 * alarms watch `RunFailed` and `PruneBlocked` (templates/resources/alarms.yml).
 */
export function recordRunMetrics(metrics: MetricsSink, report: ReconcileReport): void {
  const { counts } = report;
  metrics.count('Created', counts.created);
  metrics.count('Updated', counts.updated);
  metrics.count('Deleted', counts.deleted);
  metrics.count('Unchanged', counts.unchanged);
  metrics.count('Skipped', counts.skipped);
  metrics.count('Failed', counts.failed);
  metrics.count('PruneBlocked', report.pruneBlocked?.wouldDelete ?? 0);
  metrics.count('RegionsUnknown', report.regions.filter((region) => region.status === 'unknown').length);
  metrics.count('Drift', report.drift.length);
  metrics.count(
    'ApiCalls',
    Object.values(report.apiCalls).reduce((sum, count) => sum + count, 0),
  );
  metrics.count('NameTaken', nameTakenCount(report));
  metrics.count('RunFailed', report.failed ? 1 : 0);
}

/** Targets skipped because a role this deployment does not own holds their name. */
export function nameTakenCount(report: Pick<ReconcileReport, 'skipped'>): number {
  return report.skipped.filter((skip) => skip.reason.startsWith(NAME_TAKEN_REASON)).length;
}

/** One change of a plan or a run, for people and machines: what, on which role, with what outcome. */
export interface ChangeLine {
  action: Action['kind'];
  target: string;
  detail: string;
  outcome: string;
}

/** Every action that changes something (the no-ops left out), in the plan's order. */
export function changesOf(report: ReconcileReport): ChangeLine[] {
  return report.results
    .filter(({ action }) => action.kind !== 'no-op')
    .map((result) => ({
      action: result.action.kind,
      target: targetOf(result.action),
      detail: detailOf(result.action),
      outcome: outcomeOf(result),
    }));
}

/** Whether a report plans or made any change: what `terraform plan -detailed-exitcode` calls a diff. */
export function hasChanges(report: ReconcileReport): boolean {
  return report.results.some(({ action }) => CATEGORY[action.kind] !== 'unchanged');
}
