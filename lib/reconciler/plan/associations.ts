import { hasOwnershipTags, TAG_BINDING, TAG_CLUSTER, TAG_REGION } from '../ownership';
import { AGENT_MISSING, clusterKeyOf, pairKey } from '../pod-identity';
import type {
  Action,
  AssociationRef,
  ClusterAssociations,
  DesiredState,
  Discovery,
  ObservedAssociation,
  ObservedRole,
  ObservedState,
  ReconcilerConfig,
  SkippedTarget,
} from '../types';

/**
 * The association half of the plan, pure (plan.ts holds the role half and the deletion guard):
 * - a desired association that is missing → `create-association` (and `install-agent` first when the
 *   cluster lacks the agent and `podIdentity.installAgent` is set; otherwise the cluster is skipped),
 *   unless the cluster's quota of 5,000 would be passed;
 * - an owned one pointing at another role → `update-association`; one as desired → `association-no-op`;
 * - one at the same namespace/ServiceAccount that this deployment does not own (or an add-on owns) →
 *   skipped, never touched;
 * - an owned one that is not desired → `delete-association` only when its binding was removed, its
 *   cluster is no longer selected, its binding's namespace/ServiceAccount changed, or its binding moved
 *   back to irsa and the cluster's IRSA role for it exists; never in a region whose scan failed or a
 *   cluster whose associations could not be read.
 * It also tells the role half which IRSA roles were replaced by an association (deleted in the run
 * after the association was seen) and which role ARNs associations still use.
 */

/** EKS's limit on associations per cluster (not raisable). */
export const MAX_ASSOCIATIONS_PER_CLUSTER = 5_000;
/** Add-on states in which the agent runs, or soon will. */
const AGENT_USABLE = new Set(['ACTIVE', 'CREATING', 'UPDATING', 'DEGRADED']);

export interface AssociationPlan {
  actions: Action[];
  deletes: Action[];
  skipped: SkippedTarget[];
  /** Owned associations observed (for the deletion guard) and the ones this plan creates. */
  owned: number;
  creates: number;
  /** IRSA roles (by JSON [region, cluster, binding]) whose cluster has the binding's association. */
  replacedIrsaTargets: ReadonlySet<string>;
  /** Role ARNs some observed association uses (a role is never deleted under one). */
  usedRoleArns: ReadonlySet<string>;
  /** False when a region or a cluster's associations could not be read: no Pod Identity role is pruned. */
  complete: boolean;
}

export function planAssociations(
  desired: DesiredState,
  observed: ObservedState,
  discovery: Discovery,
  config: ReconcilerConfig,
  ownedRoles: readonly ObservedRole[],
): AssociationPlan {
  const views: ReadonlyMap<string, ClusterAssociations> = observed.associations ?? new Map();
  const actions: Action[] = [];
  const deletes: Action[] = [];
  const skipped: SkippedTarget[] = [];
  const usedRoleArns = new Set<string>();
  const replacedIrsaTargets = new Set<string>();
  const regionComplete = new Map(discovery.regions.map((scan) => [scan.region, scan.status === 'complete']));
  let complete = discovery.regions.every((scan) => scan.status === 'complete');
  let owned = 0;
  let creates = 0;

  const desiredByKey = new Map(
    desired.associations.map((association) => [
      associationKey(
        association.region,
        association.clusterName,
        association.namespace,
        association.serviceAccount,
      ),
      association,
    ]),
  );
  const podRoleArnByBinding = new Map(
    desired.roles.flatMap((role) =>
      role.mode === 'pod-identity' ? [[role.bindingName, role.arn] as const] : [],
    ),
  );
  const bindings = new Map(config.bindings.map((binding) => [binding.name, binding]));
  const podClusters = new Set(
    desired.associations.map((item) => clusterKeyOf(item.region, item.clusterName)),
  );
  const irsaRoleTargets = new Set(
    ownedRoles.flatMap((role) => {
      const region = role.tags[TAG_REGION];
      const clusterName = role.tags[TAG_CLUSTER];
      const bindingName = role.tags[TAG_BINDING];
      return region && clusterName && bindingName ? [targetKey(region, clusterName, bindingName)] : [];
    }),
  );
  const installs = new Set<string>();
  const createsIn = new Map<string, number>();
  const matched = new Set<ObservedAssociation>();

  for (const view of views.values()) {
    if (view.status !== 'complete') {
      complete = false;
      continue;
    }
    for (const association of view.associations) {
      if (association.roleArn) usedRoleArns.add(association.roleArn);
      if (isOwned(association, config)) owned++;
    }
  }

  for (const want of desired.associations) {
    const ref = refOf(want);
    const key = clusterKeyOf(want.region, want.clusterName);
    const view = views.get(key);
    const skip = (reason: string) =>
      skipped.push({
        region: want.region,
        clusterName: want.clusterName,
        bindingName: want.bindingName,
        reason,
      });
    if (view === undefined || view.status !== 'complete') {
      skip(`associations could not be read: ${view?.status === 'unknown' ? view.error : 'not observed'}`);
      continue;
    }
    const existing = view.associations.find(
      (item) => item.namespace === want.namespace && item.serviceAccount === want.serviceAccount,
    );
    if (existing) {
      matched.add(existing);
      if (existing.verified === false && existing.ownerArn === undefined) {
        // Listed, not described this run (podIdentity.verifyEveryRuns): taken as it was.
        actions.push({ kind: 'association-no-op', association: ref, associationId: existing.associationId });
        continue;
      }
      if (existing.ownerArn !== undefined || !isOwned(existing, config)) {
        skip(
          `association ${existing.associationId} for ${want.namespace}/${want.serviceAccount} is not owned by this deployment${existing.ownerArn ? ` (an add-on owns it: ${existing.ownerArn})` : ''}; left alone`,
        );
        continue;
      }
      if (existing.roleArn !== want.roleArn) {
        actions.push({
          kind: 'update-association',
          association: ref,
          associationId: existing.associationId,
          roleArn: want.roleArn,
          roleName: want.roleName,
        });
      } else {
        actions.push({ kind: 'association-no-op', association: ref, associationId: existing.associationId });
      }
      continue;
    }
    const agent = view.agent ?? 'ACTIVE';
    if (!AGENT_USABLE.has(agent)) {
      if (agent === AGENT_MISSING && config.podIdentity.installAgent) {
        if (!installs.has(key)) {
          installs.add(key);
          actions.push({ kind: 'install-agent', region: want.region, clusterName: want.clusterName });
        }
      } else {
        skip(
          agent === AGENT_MISSING
            ? 'the eks-pod-identity-agent add-on is not installed (install it, or set podIdentity.installAgent)'
            : `the eks-pod-identity-agent add-on is ${agent}`,
        );
        continue;
      }
    }
    const planned = createsIn.get(key) ?? 0;
    if (view.total + planned >= MAX_ASSOCIATIONS_PER_CLUSTER) {
      skip(
        `the cluster has ${view.total} associations: EKS allows ${MAX_ASSOCIATIONS_PER_CLUSTER} per cluster`,
      );
      continue;
    }
    createsIn.set(key, planned + 1);
    creates++;
    actions.push({ kind: 'create-association', association: want });
  }

  for (const view of views.values()) {
    if (view.status !== 'complete') continue;
    const clusterKey = clusterKeyOf(view.region, view.clusterName);
    for (const association of view.associations) {
      if (matched.has(association) || association.ownerArn !== undefined || !isOwned(association, config))
        continue;
      const bindingName = association.tags[TAG_BINDING] ?? '';
      const binding = bindings.get(bindingName);
      const ref: AssociationRef = {
        region: view.region,
        clusterName: view.clusterName,
        namespace: association.namespace,
        serviceAccount: association.serviceAccount,
        bindingName,
      };
      if (binding?.mode === 'pod-identity' && association.roleArn === podRoleArnByBinding.get(bindingName)) {
        replacedIrsaTargets.add(targetKey(view.region, view.clusterName, bindingName));
      }
      if (!regionComplete.get(view.region)) continue;
      const verdict = deleteReason(
        association,
        binding,
        clusterKey,
        podClusters,
        irsaRoleTargets,
        desiredByKey,
      );
      if (verdict.delete) {
        deletes.push({
          kind: 'delete-association',
          association: ref,
          associationId: association.associationId,
          reason: verdict.reason,
        });
      } else if (verdict.report) {
        skipped.push({
          region: view.region,
          clusterName: view.clusterName,
          bindingName,
          reason: verdict.report,
        });
      }
    }
  }
  // An association already in place for the binding on this cluster also counts as the replacement.
  for (const view of views.values()) {
    if (view.status !== 'complete') continue;
    for (const association of view.associations) {
      const bindingName = association.tags[TAG_BINDING] ?? '';
      if (
        matched.has(association) &&
        isOwned(association, config) &&
        association.roleArn === podRoleArnByBinding.get(bindingName)
      ) {
        replacedIrsaTargets.add(targetKey(view.region, view.clusterName, bindingName));
      }
    }
  }
  return { actions, deletes, skipped, owned, creates, replacedIrsaTargets, usedRoleArns, complete };
}

type Verdict = { delete: true; reason: string } | { delete: false; report?: string };

function deleteReason(
  association: ObservedAssociation,
  binding: ReconcilerConfig['bindings'][number] | undefined,
  clusterKey: string,
  podClusters: ReadonlySet<string>,
  irsaRoleTargets: ReadonlySet<string>,
  desiredByKey: ReadonlyMap<string, unknown>,
): Verdict {
  if (binding === undefined) {
    return {
      delete: true,
      reason: `binding ${association.tags[TAG_BINDING] ?? '?'} was removed from the configuration`,
    };
  }
  if (binding.mode === 'irsa') {
    if (irsaRoleTargets.has(targetKey(association.region, association.clusterName, binding.name))) {
      return { delete: true, reason: `binding ${binding.name} moved back to irsa and its IRSA role exists` };
    }
    return {
      delete: false,
      report: `association ${association.associationId} kept until the binding's IRSA role exists (binding moved back to irsa)`,
    };
  }
  if (!podClusters.has(clusterKey)) {
    return { delete: true, reason: `cluster ${association.clusterName} is no longer selected` };
  }
  const key = associationKey(
    association.region,
    association.clusterName,
    binding.namespace,
    binding.serviceAccount,
  );
  if (desiredByKey.has(key)) {
    return {
      delete: true,
      reason: `binding ${binding.name} now uses ${binding.namespace}/${binding.serviceAccount}`,
    };
  }
  return { delete: false };
}

function isOwned(association: ObservedAssociation, config: ReconcilerConfig): boolean {
  return association.ownerArn === undefined && hasOwnershipTags(association.tags, config.stage);
}

function refOf(want: DesiredState['associations'][number]): AssociationRef {
  return {
    region: want.region,
    clusterName: want.clusterName,
    namespace: want.namespace,
    serviceAccount: want.serviceAccount,
    bindingName: want.bindingName,
  };
}

function associationKey(
  region: string,
  clusterName: string,
  namespace: string,
  serviceAccount: string,
): string {
  return JSON.stringify([region, clusterName, pairKey(namespace, serviceAccount)]);
}

export function targetKey(region: string, clusterName: string, bindingName: string): string {
  return JSON.stringify([region, clusterName, bindingName]);
}
