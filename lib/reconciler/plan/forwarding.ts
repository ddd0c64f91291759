import { isDeepStrictEqual } from 'node:util';
import { forwardingRuleName } from '../config/naming';
import type {
  Action,
  DesiredForwardingRule,
  ObservedForwardingRule,
  ReconcilerConfig,
  SkippedTarget,
} from '../types';

/**
 * The forwarding half of the plan, pure. A scanned region other than the stack's needs a rule that
 * sends EKS CreateCluster/DeleteCluster calls (as CloudTrail delivers them) to the stack's bus, where
 * the stack's own rule feeds the cluster-events queue:
 * - missing → `put-forwarding-rule` (create); owned but with another pattern, state or target →
 *   `put-forwarding-rule` (repair, extra targets removed); as desired → `forwarding-no-op`;
 * - a rule of that name this deployment does not own → skipped, never touched;
 * - an owned rule where none is wanted (region no longer scanned, cluster events off) → deleted;
 * - a region whose rule could not be read → nothing there changes.
 */

/** The calls the stack's rule matches: the same pattern in every region. */
export const CLUSTER_CALLS_PATTERN = {
  source: ['aws.eks'],
  'detail-type': ['AWS API Call via CloudTrail'],
  detail: { eventSource: ['eks.amazonaws.com'], eventName: ['CreateCluster', 'DeleteCluster'] },
};

/** The target's id on every forwarding rule. */
export const FORWARDING_TARGET_ID = 'irsa-reconciler-cluster-events-bus';

export function desiredForwardingRules(config: ReconcilerConfig): DesiredForwardingRule[] {
  const forwarding = config.eventForwarding;
  if (!forwarding) return [];
  return config.regions
    .filter((region) => region !== config.deploymentRegion)
    .map((region) => ({
      region,
      name: forwardingRuleName(config.stage),
      eventPattern: JSON.stringify(CLUSTER_CALLS_PATTERN),
      busArn: forwarding.busArn,
      roleArn: forwarding.roleArn,
    }));
}

export function planForwarding(
  config: ReconcilerConfig,
  observed: readonly ObservedForwardingRule[] | undefined,
): { actions: Action[]; skipped: SkippedTarget[] } {
  if (observed === undefined) return { actions: [], skipped: [] };
  const actions: Action[] = [];
  const skipped: SkippedTarget[] = [];
  const wanted = new Map(desiredForwardingRules(config).map((rule) => [rule.region, rule]));
  const seen = new Map(observed.map((rule) => [rule.region, rule]));
  const name = forwardingRuleName(config.stage);
  const skip = (region: string, reason: string) => skipped.push({ region, clusterName: '', reason });
  for (const [region, rule] of wanted) {
    const current = seen.get(region);
    if (current === undefined || current.status === 'unknown') {
      skip(
        region,
        `cluster events are not forwarded from ${region}: its rule ${name} could not be read (${current?.status === 'unknown' ? current.error : 'not observed'})`,
      );
      continue;
    }
    if (current.status === 'absent') {
      actions.push({ kind: 'put-forwarding-rule', rule, create: true, extraTargetIds: [] });
      continue;
    }
    if (!current.owned) {
      skip(
        region,
        `an EventBridge rule named ${name} that this deployment does not own is in ${region}; left alone`,
      );
      continue;
    }
    const extraTargetIds = current.targets
      .filter((target) => target.id !== FORWARDING_TARGET_ID)
      .map((target) => target.id);
    const ours = current.targets.find((target) => target.id === FORWARDING_TARGET_ID);
    const same =
      samePattern(current.eventPattern, rule.eventPattern) &&
      current.state === 'ENABLED' &&
      extraTargetIds.length === 0 &&
      ours?.arn === rule.busArn &&
      ours.roleArn === rule.roleArn;
    actions.push(
      same
        ? { kind: 'forwarding-no-op', region, name }
        : { kind: 'put-forwarding-rule', rule, create: false, extraTargetIds },
    );
  }
  for (const current of observed) {
    if (wanted.has(current.region) || current.status !== 'present' || !current.owned) continue;
    actions.push({
      kind: 'delete-forwarding-rule',
      region: current.region,
      name,
      reason: config.eventForwarding
        ? `${current.region} is no longer scanned`
        : 'cluster events are off for this stage',
    });
  }
  return { actions, skipped };
}

/** EventBridge may give the pattern back with other spacing or key order. */
function samePattern(stored: string, wanted: string): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(stored), JSON.parse(wanted));
  } catch {
    return false;
  }
}
