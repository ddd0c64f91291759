import {
  CreateClusterCommand,
  DescribeClusterCommand,
  EKSClient,
  paginateListClusters,
} from '@aws-sdk/client-eks';
import {
  CreateOpenIDConnectProviderCommand,
  IAMClient,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  paginateGetAccountAuthorizationDetails,
  paginateListRoles,
} from '@aws-sdk/client-iam';
import { mapWithConcurrency } from '../../lib/util/concurrency';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS } from '../../test/support/moto-server';

/**
 * The simulated fleet: `clusters` EKS clusters spread round-robin over `regions`, made directly in
 * the emulator (never through the latency proxy), plus one IAM OIDC provider per region issuer
 * (moto gives every cluster of a region the same issuer).
 */
export const FLEET_REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-west-2'];

/** Every bench role carries this boundary, as in a deployment (the emulator checks only its form). */
export const BENCH_BOUNDARY_ARN = 'arn:aws:iam::123456789012:policy/irsa-reconciler/bench-boundary';

/** The bench bindings' parts, shared by the IRSA and the Pod Identity fleets. */
export const UPLOADER_BINDING = {
  name: 'uploader',
  namespace: 'apps',
  serviceAccount: 'uploader',
  policies: [{ template: 's3-prefix-access', params: { BucketName: 'bench-artifacts', Prefix: 'clusters' } }],
};
export const CONFIG_READER = { name: 'config-reader', namespace: 'apps', serviceAccount: 'config-reader' };
export const SECRETS_READ_POLICY = {
  template: 'secretsmanager-read',
  params: { SecretNamePrefixes: ['bench/'] },
};

/** The reconciler configuration of every IRSA run: 2 bindings, 3 inline policies in all. */
export function benchConfig(
  regions: string[],
  concurrency: number,
  roleNamePrefix: string,
): Record<string, unknown> {
  return {
    regions,
    roleNamePrefix,
    clusters: { include: ['*'] },
    permissionsBoundaryArn: BENCH_BOUNDARY_ARN,
    bindings: [
      UPLOADER_BINDING,
      {
        ...CONFIG_READER,
        policies: [
          SECRETS_READ_POLICY,
          {
            template: 'appconfig-read',
            params: { ApplicationId: 'abc1234', EnvironmentId: 'env1234', ConfigurationProfileId: 'prof123' },
          },
        ],
      },
    ],
    concurrency,
  };
}

export const BENCH_STAGE = 'bench';
export const BENCH_DEPLOYMENT_REGION = 'us-east-1';

export function clusterName(region: string, index: number): string {
  return `bench-${region}-${String(index).padStart(4, '0')}`;
}

/** Creates the clusters and the providers; returns the cluster count per region. */
export async function seedFleet(
  endpoint: string,
  clusters: number,
  regions: string[] = FLEET_REGIONS,
): Promise<Record<string, number>> {
  const eks = new Map(regions.map((region) => [region, eksClient(endpoint, region)]));
  const targets = Array.from({ length: clusters }, (_, i) => {
    const region = regions[i % regions.length] as string;
    return { region, name: clusterName(region, Math.floor(i / regions.length)) };
  });
  await mapWithConcurrency(targets, 16, ({ region, name }) =>
    clientFor(eks, region).send(
      new CreateClusterCommand({
        name,
        roleArn: `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:role/eks-cluster`,
        resourcesVpcConfig: { subnetIds: [] },
        tags: { team: 'platform' },
      }),
    ),
  );
  const iam = iamClient(endpoint);
  const issuers = new Set<string>();
  for (const region of regions) {
    const first = targets.find((target) => target.region === region);
    if (!first) continue;
    const { cluster } = await clientFor(eks, region).send(new DescribeClusterCommand({ name: first.name }));
    const issuer = cluster?.identity?.oidc?.issuer;
    if (!issuer) throw new Error(`moto gave cluster ${first.name} no OIDC issuer`);
    issuers.add(issuer);
  }
  for (const issuer of issuers) {
    await iam.send(
      new CreateOpenIDConnectProviderCommand({
        Url: issuer,
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
      }),
    );
  }
  return Object.fromEntries(
    regions.map((region) => [region, targets.filter((target) => target.region === region).length]),
  );
}

/** The largest page each List API allows: the design's lower bound reads with these. */
export const MAX_PAGE_SIZE = { listClusters: 100, listRoles: 1000, authorizationDetails: 1000 } as const;

/** What the emulator holds after a run, read page by page with the largest page sizes. */
export interface FleetCensus {
  /** Pages ListClusters needs per region at maxResults = 100. */
  listClustersPages: Record<string, number>;
  clusters: number;
  /** Pages ListRoles needs under the role path at MaxItems = 1000. */
  listRolesPages: number;
  roles: number;
  /** Inline policies over all roles under the path. */
  inlinePolicies: number;
  /** Pages GetAccountAuthorizationDetails (roles) needs for the whole account. */
  authorizationDetailsPages: number;
}

/** Counts pages and inline policies directly in the emulator (these calls are not the reconciler's). */
export async function takeCensus(
  endpoint: string,
  regions: string[],
  rolePath: string,
): Promise<FleetCensus & { roleNames: string[] }> {
  const listClustersPages: Record<string, number> = {};
  let clusters = 0;
  for (const region of regions) {
    let pages = 0;
    for await (const page of paginateListClusters(
      { client: eksClient(endpoint, region), pageSize: MAX_PAGE_SIZE.listClusters },
      {},
    )) {
      pages++;
      clusters += page.clusters?.length ?? 0;
    }
    listClustersPages[region] = pages;
  }
  const iam = iamClient(endpoint);
  const roleNames: string[] = [];
  let listRolesPages = 0;
  for await (const page of paginateListRoles(
    { client: iam, pageSize: MAX_PAGE_SIZE.listRoles },
    { PathPrefix: rolePath },
  )) {
    listRolesPages++;
    roleNames.push(...(page.Roles ?? []).map((role) => role.RoleName ?? ''));
  }
  const policyCounts = await mapWithConcurrency(roleNames, 16, async (roleName) => {
    const response = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, MaxItems: 1000 }));
    if (response.IsTruncated) throw new Error(`role ${roleName} has more than 1000 inline policies`);
    return response.PolicyNames?.length ?? 0;
  });
  let authorizationDetailsPages = 0;
  for await (const _page of paginateGetAccountAuthorizationDetails(
    { client: iam, pageSize: MAX_PAGE_SIZE.authorizationDetails },
    { Filter: ['Role'] },
  )) {
    authorizationDetailsPages++;
  }
  return {
    listClustersPages,
    clusters,
    listRolesPages,
    roles: roleNames.length,
    inlinePolicies: policyCounts.reduce((sum, count) => sum + count, 0),
    authorizationDetailsPages,
    roleNames,
  };
}

/**
 * The emulator's own ceiling: `calls` ListRoleTags (one of the reads a steady run makes most) with
 * `concurrency` in flight and nothing else, in calls per second. A run cannot read faster than this.
 */
export async function readRate(
  endpoint: string,
  roleNames: string[],
  concurrency: number,
  calls: number,
): Promise<number> {
  if (roleNames.length === 0) return Number.NaN;
  const iam = iamClient(endpoint);
  const targets = Array.from({ length: calls }, (_, i) => roleNames[i % roleNames.length] as string);
  const started = performance.now();
  await mapWithConcurrency(targets, concurrency, (roleName) =>
    iam.send(new ListRoleTagsCommand({ RoleName: roleName })),
  );
  return Math.round((calls / (performance.now() - started)) * 1000);
}

/**
 * The fewest calls a steady-state run can make and still see every drift the reconciler corrects:
 * list and describe every cluster, list the providers and the caller, and read the account's roles in
 * bulk (GetAccountAuthorizationDetails: trust, inline policies, boundary, attached policies and tags of
 * up to 1,000 roles a page; moto answers in one page whatever the account holds).
 */
export function steadyStateLowerBound(census: FleetCensus): Record<string, number> {
  return {
    'EKS:DescribeCluster': census.clusters,
    'EKS:ListClusters': Object.values(census.listClustersPages).reduce((sum, pages) => sum + pages, 0),
    'IAM:GetAccountAuthorizationDetails': census.authorizationDetailsPages,
    'IAM:ListOpenIDConnectProviders': 1,
    'STS:GetCallerIdentity': 1,
  };
}

function eksClient(endpoint: string, region: string): EKSClient {
  return new EKSClient({ region, endpoint, credentials: EMULATOR_CREDENTIALS });
}

function iamClient(endpoint: string): IAMClient {
  return new IAMClient({ region: 'us-east-1', endpoint, credentials: EMULATOR_CREDENTIALS });
}

function clientFor(clients: Map<string, EKSClient>, region: string): EKSClient {
  const client = clients.get(region);
  if (!client) throw new Error(`no EKS client for ${region}`);
  return client;
}
