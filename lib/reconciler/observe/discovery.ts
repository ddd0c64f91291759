import { DescribeClusterCommand, paginateListClusters } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describeError, IrsaReconcilerError, isNotFound, toAwsCallError } from '../../errors';
import { mapSettled } from '../../util/concurrency';
import type { ReconcilerDeps } from '../deps';
import type { AccountInfo, ClusterInfo, Discovery, Partition, ReconcilerConfig, RegionScan } from '../types';
import { listOidcProviderArns } from './iam-roles';

const PARTITIONS: readonly Partition[] = ['aws', 'aws-cn', 'aws-us-gov'];

/**
 * Scans every configured region for EKS clusters, and reads the account's identity and IAM OIDC
 * providers. A region whose list or any describe failed is `unknown` (never `empty`): it keeps the
 * clusters it did describe, and nothing in it will be pruned. The account and provider reads are
 * global: if they fail nothing can be planned, so they throw.
 */
export async function discover(deps: ReconcilerDeps, config: ReconcilerConfig): Promise<Discovery> {
  const account = await discoverAccount(deps);
  const listed = await mapSettled(config.regions, config.concurrency, (region) =>
    listClusterNames(deps, region),
  );

  const scans = new Map<string, { clusters: ClusterInfo[]; errors: string[] }>();
  const toDescribe: { region: string; name: string }[] = [];
  config.regions.forEach((region, index) => {
    const result = listed[index];
    const scan = { clusters: [] as ClusterInfo[], errors: [] as string[] };
    scans.set(region, scan);
    if (result?.status === 'fulfilled') {
      for (const name of result.value) toDescribe.push({ region, name });
    } else {
      scan.errors.push(describeError(toAwsCallError(`EKS ListClusters in ${region}`, result?.reason)));
    }
  });

  // One queue across regions keeps the whole scan under `concurrency` calls in flight.
  const described = await mapSettled(toDescribe, config.concurrency, ({ region, name }) =>
    describeCluster(deps, region, name),
  );
  toDescribe.forEach(({ region, name }, index) => {
    const scan = scans.get(region);
    const result = described[index];
    if (!scan || !result) return;
    if (result.status === 'fulfilled') {
      // undefined: deleted between list and describe; the list is still complete without it.
      if (result.value) scan.clusters.push(result.value);
    } else {
      scan.errors.push(
        describeError(toAwsCallError(`EKS DescribeCluster ${name} in ${region}`, result.reason)),
      );
    }
  });

  const regions: RegionScan[] = config.regions.map((region) => {
    const scan = scans.get(region) ?? { clusters: [], errors: ['region was not scanned'] };
    const clusters = scan.clusters.sort((a, b) => a.name.localeCompare(b.name));
    if (scan.errors.length === 0) return { region, status: 'complete', clusters };
    deps.logger.warn('region scan incomplete: nothing in it will be pruned', { region, errors: scan.errors });
    return { region, status: 'unknown', clusters, error: scan.errors.join('; ') };
  });

  const oidcProviderArns = await listOidcProviderArns(deps);
  deps.logger.debug('discovery done', {
    account,
    regions: regions.map((scan) => ({
      region: scan.region,
      status: scan.status,
      clusters: scan.clusters.length,
    })),
    oidcProviders: oidcProviderArns.length,
  });
  return { account, regions, oidcProviderArns };
}

/** GetCallerIdentity: the account id and the partition, read from the caller's ARN. */
export async function discoverAccount(deps: ReconcilerDeps): Promise<AccountInfo> {
  let identity: { Account?: string; Arn?: string };
  try {
    identity = await deps.clients.sts.send(new GetCallerIdentityCommand({}));
  } catch (error) {
    throw toAwsCallError('STS GetCallerIdentity', error);
  }
  const accountId = identity.Account;
  if (!accountId || !/^\d{12}$/.test(accountId)) {
    throw new IrsaReconcilerError(`STS GetCallerIdentity returned no valid account id (got "${accountId}")`);
  }
  return { accountId, partition: partitionOfArn(identity.Arn) };
}

/** `arn:<partition>:...` → partition; only the three IAM partitions that run EKS with IRSA are accepted. */
export function partitionOfArn(arn: string | undefined): Partition {
  const partition = arn?.split(':')[1];
  const known = PARTITIONS.find((candidate) => candidate === partition);
  if (!arn?.startsWith('arn:') || !known) {
    throw new IrsaReconcilerError(
      `cannot tell the AWS partition from the caller ARN "${arn}": expected one of ${PARTITIONS.join(', ')}`,
    );
  }
  return known;
}

/** EKS's largest ListClusters page (the default is 100 too, stated so a changed default costs nothing). */
export const LIST_CLUSTERS_PAGE_SIZE = 100;

async function listClusterNames(deps: ReconcilerDeps, region: string): Promise<string[]> {
  const names: string[] = [];
  const paginator = paginateListClusters(
    { client: deps.clients.eks(region), pageSize: LIST_CLUSTERS_PAGE_SIZE },
    {},
  );
  for await (const page of paginator) {
    names.push(...(page.clusters ?? []));
  }
  return names;
}

export async function describeCluster(
  deps: ReconcilerDeps,
  region: string,
  name: string,
): Promise<ClusterInfo | undefined> {
  try {
    const { cluster } = await deps.clients.eks(region).send(new DescribeClusterCommand({ name }));
    if (!cluster)
      throw new IrsaReconcilerError(`EKS DescribeCluster ${name} in ${region} returned no cluster`);
    const issuer = cluster.identity?.oidc?.issuer;
    return {
      name: cluster.name ?? name,
      region,
      arn: cluster.arn ?? '',
      status: cluster.status ?? 'UNKNOWN',
      ...(issuer ? { oidcIssuer: issuer } : {}),
      tags: cluster.tags ?? {},
    };
  } catch (error) {
    if (isNotFound(error)) {
      deps.logger.info('cluster vanished between list and describe', { region, cluster: name });
      return undefined;
    }
    throw error;
  }
}
