import {
  DescribeAddonCommand,
  DescribePodIdentityAssociationCommand,
  paginateListPodIdentityAssociations,
} from '@aws-sdk/client-eks';
import { describeError, isNotFound, toAwsCallError } from '../../errors';
import { mapSettled } from '../../util/concurrency';
import type { ReconcilerDeps } from '../deps';
import { isPodIdentityRole, TAG_BINDING } from '../ownership';
import { RECONCILED_CLUSTER_STATUSES } from '../plan/desired';
import { AGENT_MISSING, clusterKeyOf, POD_IDENTITY_AGENT_ADDON, pairKey } from '../pod-identity';
import type {
  ClusterAssociations,
  DesiredState,
  Discovery,
  ObservedAssociation,
  ObservedRole,
  ReconcilerConfig,
} from '../types';

/**
 * The EKS Pod Identity associations the plan compares, per cluster. EKS lists an association without
 * its role or tags, so only those at a namespace/ServiceAccount the reconciler looks after are
 * described: every configured binding's (whatever its mode: one moved back to irsa still has
 * associations to remove) and every owned Pod Identity role's (a removed binding's, read from the
 * role's trust policy). The `eks-pod-identity-agent` add-on is read only on a cluster where an
 * association is to be made. A cluster whose read fails is `unknown`: nothing in it is created or
 * deleted this run.
 */

/** EKS's largest ListPodIdentityAssociations page. */
export const LIST_ASSOCIATIONS_PAGE_SIZE = 100;

const NAMESPACE_TAG = 'aws:RequestTag/kubernetes-namespace';
const SERVICE_ACCOUNT_TAG = 'aws:RequestTag/kubernetes-service-account';

/** Undefined when no binding uses Pod Identity and no owned role is a Pod Identity role: no EKS call. */
export async function observeAssociations(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  discovery: Discovery,
  desired: DesiredState,
  ownedRoles: readonly ObservedRole[],
): Promise<Map<string, ClusterAssociations> | undefined> {
  const podRoles = ownedRoles.filter(isPodIdentityRole);
  const anyPodBinding = config.bindings.some((binding) => binding.mode === 'pod-identity');
  if (!anyPodBinding && podRoles.length === 0) return undefined;

  const watched = new Set(
    config.bindings.map((binding) => pairKey(binding.namespace, binding.serviceAccount)),
  );
  for (const role of podRoles) {
    const pair = servedPair(role);
    if (pair) watched.add(pairKey(pair.namespace, pair.serviceAccount));
  }
  const wanted = new Map<string, Set<string>>();
  for (const association of desired.associations) {
    const key = clusterKeyOf(association.region, association.clusterName);
    const pairs = wanted.get(key) ?? new Set<string>();
    pairs.add(pairKey(association.namespace, association.serviceAccount));
    wanted.set(key, pairs);
  }

  const clusters = discovery.regions.flatMap((scan) =>
    scan.clusters.filter((cluster) => RECONCILED_CLUSTER_STATUSES.has(cluster.status)),
  );
  const verify = verificationOf(deps, config, desired, ownedRoles);
  const observed = await mapSettled(clusters, config.concurrency, (cluster) =>
    observeCluster(
      deps,
      cluster.region,
      cluster.name,
      watched,
      wanted.get(clusterKeyOf(cluster.region, cluster.name)),
      verify,
    ),
  );
  const result = new Map<string, ClusterAssociations>();
  clusters.forEach((cluster, index) => {
    const outcome = observed[index];
    const key = clusterKeyOf(cluster.region, cluster.name);
    if (outcome?.status === 'fulfilled') {
      result.set(key, outcome.value);
    } else {
      const error = describeError(outcome?.reason);
      deps.logger.warn('associations of a cluster could not be read: nothing there changes this run', {
        region: cluster.region,
        cluster: cluster.name,
        error,
      });
      result.set(key, { region: cluster.region, clusterName: cluster.name, status: 'unknown', error });
    }
  });
  return result;
}

/** The length of a verification window: the schedule's period. */
const VERIFY_WINDOW_MS = 2 * 60 * 60_000;

/**
 * Whether an association at a wanted pair is described this run. Every one is, when verifyEveryRuns is
 * 1 or the run may delete a role (an owned Pod Identity role that is not desired, or an IRSA role of a
 * binding now in pod-identity mode): those decisions read every association's role. Otherwise one in
 * verifyEveryRuns, by association id and the run's two-hour window, so each is described at least once
 * every verifyEveryRuns windows and the run's EKS calls fall with it.
 */
function verificationOf(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  desired: DesiredState,
  ownedRoles: readonly ObservedRole[],
): (associationId: string) => boolean {
  const every = config.podIdentity.verifyEveryRuns;
  const desiredNames = new Set(desired.roles.map((role) => role.roleName));
  const podBindings = new Set(
    config.bindings.filter((binding) => binding.mode === 'pod-identity').map((binding) => binding.name),
  );
  const mayDelete = ownedRoles.some((role) =>
    isPodIdentityRole(role)
      ? !desiredNames.has(role.roleName)
      : podBindings.has(role.tags[TAG_BINDING] ?? ''),
  );
  if (every <= 1 || mayDelete) return () => true;
  const window = Math.floor((deps.now ?? (() => new Date()))().getTime() / VERIFY_WINDOW_MS) % every;
  return (associationId) => bucketOf(associationId, every) === window;
}

/** A stable bucket in [0, buckets) from an association id (FNV-1a). */
function bucketOf(id: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < id.length; index++) {
    hash ^= id.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % buckets;
}

async function observeCluster(
  deps: ReconcilerDeps,
  region: string,
  clusterName: string,
  watched: ReadonlySet<string>,
  wanted: ReadonlySet<string> | undefined,
  verify: (associationId: string) => boolean,
): Promise<ClusterAssociations> {
  const eks = deps.clients.eks(region);
  const summaries: { associationId: string; namespace: string; serviceAccount: string; ownerArn?: string }[] =
    [];
  try {
    const pages = paginateListPodIdentityAssociations(
      { client: eks, pageSize: LIST_ASSOCIATIONS_PAGE_SIZE },
      { clusterName },
    );
    for await (const page of pages) {
      for (const item of page.associations ?? []) {
        summaries.push({
          associationId: item.associationId ?? '',
          namespace: item.namespace ?? '',
          serviceAccount: item.serviceAccount ?? '',
          ...(item.ownerArn ? { ownerArn: item.ownerArn } : {}),
        });
      }
    }
  } catch (error) {
    throw toAwsCallError(`EKS ListPodIdentityAssociations ${clusterName} in ${region}`, error);
  }
  const associations: ObservedAssociation[] = [];
  for (const summary of summaries) {
    const pair = pairKey(summary.namespace, summary.serviceAccount);
    if (!watched.has(pair)) continue;
    const listed = {
      region,
      clusterName,
      associationId: summary.associationId,
      namespace: summary.namespace,
      serviceAccount: summary.serviceAccount,
      ...(summary.ownerArn ? { ownerArn: summary.ownerArn } : {}),
    };
    if (wanted?.has(pair) && !verify(summary.associationId)) {
      associations.push({ ...listed, roleArn: '', tags: {}, verified: false });
      continue;
    }
    try {
      const { association } = await eks.send(
        new DescribePodIdentityAssociationCommand({ clusterName, associationId: summary.associationId }),
      );
      associations.push({ ...listed, roleArn: association?.roleArn ?? '', tags: association?.tags ?? {} });
    } catch (error) {
      // Deleted between list and describe: it is gone, which is what the list would say now.
      if (isNotFound(error)) continue;
      throw toAwsCallError(
        `EKS DescribePodIdentityAssociation ${summary.associationId} of ${clusterName} in ${region}`,
        error,
      );
    }
  }
  const present = new Set(summaries.map((item) => pairKey(item.namespace, item.serviceAccount)));
  const missing = [...(wanted ?? [])].some((pair) => !present.has(pair));
  return {
    region,
    clusterName,
    status: 'complete',
    total: summaries.length,
    associations,
    ...(missing ? { agent: await agentStatus(deps, region, clusterName) } : {}),
  };
}

async function agentStatus(deps: ReconcilerDeps, region: string, clusterName: string): Promise<string> {
  try {
    const { addon } = await deps.clients
      .eks(region)
      .send(new DescribeAddonCommand({ clusterName, addonName: POD_IDENTITY_AGENT_ADDON }));
    return addon?.status ?? 'UNKNOWN';
  } catch (error) {
    if (isNotFound(error)) return AGENT_MISSING;
    throw toAwsCallError(
      `EKS DescribeAddon ${POD_IDENTITY_AGENT_ADDON} of ${clusterName} in ${region}`,
      error,
    );
  }
}

/** The namespace and ServiceAccount a Pod Identity role serves, from its trust policy's conditions. */
export function servedPair(role: ObservedRole): { namespace: string; serviceAccount: string } | undefined {
  for (const statement of role.trustPolicy.Statement) {
    const equals = (statement.Condition as Record<string, Record<string, unknown>> | undefined)?.StringEquals;
    const namespace = single(equals?.[NAMESPACE_TAG]);
    const serviceAccount = single(equals?.[SERVICE_ACCOUNT_TAG]);
    if (namespace !== undefined && serviceAccount !== undefined) return { namespace, serviceAccount };
  }
  return undefined;
}

const CLUSTER_ARN_TAG = 'aws:RequestTag/eks-cluster-arn';

/**
 * The clusters a Pod Identity role's trust is pinned to (`aws:RequestTag/eks-cluster-arn`), or
 * `unpinned` when no statement pins it: what a single-cluster run keeps while adding its cluster.
 */
export function pinnedClusterArns(role: ObservedRole): string[] | 'unpinned' {
  const arns = role.trustPolicy.Statement.flatMap((statement) => {
    const equals = (statement.Condition as Record<string, Record<string, unknown>> | undefined)?.StringEquals;
    const value = equals?.[CLUSTER_ARN_TAG];
    if (typeof value === 'string') return [value];
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  });
  return arns.length === 0 ? 'unpinned' : arns;
}

function single(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  return undefined;
}
