import { parseReconcilerConfig } from '../../../lib/reconciler/config/schema';
import { oidcProviderArnFor } from '../../../lib/reconciler/plan/desired';
import { simulatePlan } from '../../../lib/reconciler/plan/simulate';
import type {
  AccountInfo,
  ClusterInfo,
  DesiredRole,
  Discovery,
  ObservedRole,
  ReconcilerConfig,
  RegionScan,
} from '../../../lib/reconciler/types';

export const ACCOUNT: AccountInfo = { accountId: '123456789012', partition: 'aws' };
export const STAGE = 'dev';
export const DEPLOYMENT_REGION = 'eu-west-1';

export const APP_BINDING = {
  name: 'app',
  namespace: 'payments',
  serviceAccount: 'payments-api',
  mode: 'irsa' as const,
  policies: [{ template: 's3-prefix-access', params: { BucketName: 'acme-data', Prefix: 'payments' } }],
};

export const WORKER_BINDING = {
  name: 'worker',
  namespace: 'jobs',
  serviceAccount: 'worker',
  mode: 'irsa' as const,
  policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: ['jobs/'] } }],
};

/** A configuration through the real parser (so defaults are the real ones); one binding unless given. */
/** The boundary every test configuration names (the configuration requires one). */
export const BOUNDARY_ARN = `arn:aws:iam::${ACCOUNT.accountId}:policy/irsa-reconciler/dev/workload-boundary`;

export function makeConfig(raw: Record<string, unknown> = {}): ReconcilerConfig {
  return parseReconcilerConfig(
    { bindings: [APP_BINDING], clusters: { include: ['*'] }, permissionsBoundaryArn: BOUNDARY_ARN, ...raw },
    { stage: STAGE, deploymentRegion: DEPLOYMENT_REGION },
  );
}

export function issuerFor(region: string, id = 'EXAMPLED539D4633E53DE1B71EXAMPLE'): string {
  return `https://oidc.eks.${region}.amazonaws.com/id/${id}`;
}

export function providerArnOf(cluster: ClusterInfo): string {
  return oidcProviderArnFor(ACCOUNT, (cluster.oidcIssuer ?? '').replace(/^https:\/\//, ''));
}

export function makeCluster(name: string, region: string, overrides: Partial<ClusterInfo> = {}): ClusterInfo {
  return {
    name,
    region,
    arn: `arn:aws:eks:${region}:${ACCOUNT.accountId}:cluster/${name}`,
    status: 'ACTIVE',
    oidcIssuer: issuerFor(region, `ID${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`),
    tags: {},
    ...overrides,
  };
}

export function completeScan(region: string, clusters: ClusterInfo[]): RegionScan {
  return { region, status: 'complete', clusters };
}

export function unknownScan(region: string, clusters: ClusterInfo[] = []): RegionScan {
  return { region, status: 'unknown', clusters, error: 'ListClusters failed: ThrottlingException' };
}

/** Discovery where every cluster's OIDC provider exists, unless `oidcProviderArns` says otherwise. */
export function makeDiscovery(regions: RegionScan[], oidcProviderArns?: string[]): Discovery {
  const all = regions.flatMap((scan) => scan.clusters.filter((c) => c.oidcIssuer).map(providerArnOf));
  return { account: ACCOUNT, regions, oidcProviderArns: oidcProviderArns ?? [...new Set(all)] };
}

/** The roles exactly as IAM would hold them after creating `roles`. */
export function observedFrom(roles: DesiredRole[]): ObservedRole[] {
  return simulatePlan(
    { roles: [], oidcProviderArns: [] },
    {
      actions: roles.flatMap((role) => [
        { kind: 'create' as const, role },
        ...Object.entries(role.inlinePolicies).map(([policyName, document]) => ({
          kind: 'put-policy' as const,
          roleName: role.roleName,
          policyName,
          document,
        })),
      ]),
      skipped: [],
      drift: [],
    },
    ACCOUNT,
  ).roles;
}

/** A role someone else made, under whatever path and tags the test gives. */
export function foreignRole(roleName: string, overrides: Partial<ObservedRole> = {}): ObservedRole {
  return {
    roleName,
    path: '/',
    arn: `arn:aws:iam::${ACCOUNT.accountId}:role/${roleName}`,
    trustPolicy: { Version: '2012-10-17', Statement: [] },
    tags: {},
    inlinePolicies: {},
    attachedPolicyArns: [],
    ...overrides,
  };
}
