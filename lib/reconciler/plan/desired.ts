import { TemplateError } from '../../errors';
import { BUILTIN_TEMPLATES } from '../config/catalog';
import { compileGlobs } from '../config/glob';
import {
  EKS_CLUSTER_NAME_RULE,
  inlinePolicyName,
  isValidClusterName,
  podIdentityRoleNameFor,
  publishedParameterName,
  roleNameFor,
} from '../config/naming';
import {
  type BuiltinValues,
  INLINE_POLICIES_MAX_SIZE,
  policySize,
  type RenderMode,
  renderPodIdentityTrustPolicy,
  renderPolicyTemplate,
  renderTrustPolicy,
  type TemplateCatalog,
} from '../config/templates';
import { ownershipTags, podIdentityOwnershipTags } from '../ownership';
import type {
  AccountInfo,
  Binding,
  ClusterInfo,
  DesiredAssociation,
  DesiredIrsaRole,
  DesiredOidcProvider,
  DesiredPodIdentityRole,
  DesiredRole,
  DesiredState,
  Discovery,
  PolicyDocument,
  ReconcilerConfig,
  SkippedTarget,
} from '../types';

/** Cluster states in which a cluster gets its roles. */
export const RECONCILED_CLUSTER_STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'UPDATING']);

/** The issuer without its scheme, as IAM names OIDC providers: `oidc.eks.<region>.amazonaws.com/id/<id>`. */
export function issuerHostPath(issuerUrl: string): string | undefined {
  const match = /^https:\/\/([^/?#*\s]+(?:\/[^/?#*\s]+)*)\/?$/.exec(issuerUrl);
  return match?.[1];
}

export function oidcProviderArnFor(account: AccountInfo, issuerHost: string): string {
  return `arn:${account.partition}:iam::${account.accountId}:oidc-provider/${issuerHost}`;
}

/** `true` (any case) in the opt-out tag leaves a cluster alone. */
export function isOptedOut(cluster: ClusterInfo, optOutTagKey: string): boolean {
  return hasTrueTag(cluster, optOutTagKey);
}

function hasTrueTag(cluster: ClusterInfo, key: string): boolean {
  return cluster.tags[key]?.trim().toLowerCase() === 'true';
}

/**
 * What should exist, pure. For an irsa binding: one role per selected cluster. For a pod-identity
 * binding: one role for the fleet, and one association per selected cluster. A cluster that is not
 * selected, opted out or not ACTIVE/UPDATING gets nothing and a SkippedTarget saying why; one without
 * an OIDC issuer or IAM OIDC provider (while `createOidcProvider` is off) gets no IRSA role (Pod
 * Identity needs neither); a binding whose policies do not render is skipped alone. Role names that
 * collide (a hash collision) are skipped.
 */
export function desiredState(
  config: ReconcilerConfig,
  discovery: Discovery,
  templates: TemplateCatalog = BUILTIN_TEMPLATES,
  podIdentityPins: PodIdentityPins = new Map(),
): DesiredState {
  const included = config.clusters.include.length === 0 ? () => true : compileGlobs(config.clusters.include);
  const optInTagKey = config.clusters.optInTagKey;
  const excluded = compileGlobs(config.clusters.exclude);
  const knownProviders = new Set(discovery.oidcProviderArns);
  const roles: DesiredRole[] = [];
  const skipped: SkippedTarget[] = [];
  const providers = new Map<string, DesiredOidcProvider>();
  const seenClusters = new Set<string>();
  const irsaBindings = config.bindings.filter((binding) => binding.mode === 'irsa');
  const podBindings = config.bindings.filter((binding) => binding.mode === 'pod-identity');
  const podClusters: ClusterInfo[] = [];

  for (const scan of discovery.regions) {
    for (const cluster of scan.clusters) {
      const key = JSON.stringify([cluster.region, cluster.name]);
      if (seenClusters.has(key)) continue;
      seenClusters.add(key);
      const skip = (reason: string) =>
        skipped.push({ region: cluster.region, clusterName: cluster.name, reason });
      if (!isValidClusterName(cluster.name)) {
        skip(
          `cluster name ${JSON.stringify(cluster.name)} is not a valid EKS cluster name (${EKS_CLUSTER_NAME_RULE}); refused`,
        );
        continue;
      }
      if (!included(cluster.name) || excluded(cluster.name)) {
        skip('not selected by clusters.include/exclude');
        continue;
      }
      if (optInTagKey !== undefined && !hasTrueTag(cluster, optInTagKey)) {
        skip(`not opted in: no tag ${optInTagKey}=true`);
        continue;
      }
      if (isOptedOut(cluster, config.clusters.optOutTagKey)) {
        skip(`opted out by tag ${config.clusters.optOutTagKey}=true`);
        continue;
      }
      if (!RECONCILED_CLUSTER_STATUSES.has(cluster.status)) {
        skip(`cluster status is ${cluster.status}; roles are made for ACTIVE or UPDATING clusters only`);
        continue;
      }
      if (podBindings.length > 0) podClusters.push(cluster);
      if (irsaBindings.length === 0) continue;
      if (cluster.oidcIssuer === undefined || cluster.oidcIssuer === '') {
        skip('cluster has no OIDC issuer');
        continue;
      }
      const issuerHost = issuerHostPath(cluster.oidcIssuer);
      if (issuerHost === undefined) {
        skip(`OIDC issuer "${cluster.oidcIssuer}" is not an https URL`);
        continue;
      }
      const providerArn = oidcProviderArnFor(discovery.account, issuerHost);
      if (!knownProviders.has(providerArn)) {
        if (!config.createOidcProvider) {
          skip(
            `no IAM OIDC provider ${providerArn} for the cluster's issuer (create it, or set createOidcProvider)`,
          );
          continue;
        }
        if (!providers.has(providerArn)) {
          providers.set(providerArn, {
            region: cluster.region,
            clusterName: cluster.name,
            issuerUrl: cluster.oidcIssuer,
            arn: providerArn,
          });
        }
      }
      for (const binding of irsaBindings) {
        try {
          roles.push(
            desiredRole(config, discovery.account, cluster, issuerHost, providerArn, binding, templates),
          );
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          skipped.push({
            region: cluster.region,
            clusterName: cluster.name,
            bindingName: binding.name,
            reason: error.message,
          });
        }
      }
    }
  }
  const associations: DesiredAssociation[] = [];
  for (const binding of podBindings) {
    let role: DesiredPodIdentityRole;
    try {
      role = podIdentityRole(
        config,
        discovery.account,
        binding,
        podClusters,
        templates,
        podIdentityPins.get(binding.name),
      );
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      skipped.push({ region: '', clusterName: '', bindingName: binding.name, reason: error.message });
      continue;
    }
    roles.push(role);
    for (const cluster of podClusters) {
      associations.push({
        region: cluster.region,
        clusterName: cluster.name,
        bindingName: binding.name,
        namespace: binding.namespace,
        serviceAccount: binding.serviceAccount,
        roleName: role.roleName,
        roleArn: role.arn,
        tags: { ...config.tags, ...podIdentityOwnershipTags(config.stage, binding.name) },
      });
    }
  }
  const kept = dropNameCollisions(roles, skipped);
  const keptPodRoles = new Set(kept.filter((role) => role.mode === 'pod-identity').map((r) => r.roleName));
  return {
    roles: kept,
    oidcProviders: [...providers.values()],
    associations: associations.filter((association) => keptPodRoles.has(association.roleName)),
    parameters: config.publishRoleArns
      ? kept.flatMap((role) =>
          role.mode === 'irsa'
            ? [
                {
                  region: role.region,
                  name: publishedParameterName(config.stage, role.clusterName, role.bindingName),
                  value: roleArnOf(discovery.account, role.path, role.roleName),
                  roleName: role.roleName,
                },
              ]
            : [],
        )
      : [],
    skipped,
  };
}

/**
 * Clusters a pod-identity binding's role must stay pinned to beyond those discovered, by binding name:
 * a single-cluster run knows one cluster, so it keeps the pins the role already has (or keeps it
 * unpinned) and only adds its cluster. Empty for the full run, which knows every cluster.
 */
export type PodIdentityPins = ReadonlyMap<string, readonly string[] | 'unpinned'>;

/** The ARN IAM gives a role: the associations name it before it exists. */
export function roleArnOf(account: AccountInfo, path: string, roleName: string): string {
  return `arn:${account.partition}:iam::${account.accountId}:role${path}${roleName}`;
}

/**
 * A pod-identity binding's one role: trusted by pods.eks.amazonaws.com for this account and the
 * binding's namespace and ServiceAccount, pinned to the selected clusters while the trust policy fits;
 * its policies rendered with the session tags in place of the cluster (see config/templates.ts).
 */
function podIdentityRole(
  config: ReconcilerConfig,
  account: AccountInfo,
  binding: Binding,
  clusters: readonly ClusterInfo[],
  templates: TemplateCatalog,
  alsoPinned: readonly string[] | 'unpinned' | undefined,
): DesiredPodIdentityRole {
  const builtins: BuiltinValues = {
    AccountId: account.accountId,
    Partition: account.partition,
    Region: '',
    ClusterName: '',
    ClusterArn: '',
    Stage: config.stage,
    Namespace: binding.namespace,
    ServiceAccount: binding.serviceAccount,
  };
  const clusterArns =
    alsoPinned === 'unpinned'
      ? []
      : [
          ...new Set([
            ...clusters.map((cluster) => cluster.arn).filter((arn) => arn !== ''),
            ...(alsoPinned ?? []),
          ]),
        ];
  const trust = renderPodIdentityTrustPolicy(templates, {
    AccountId: account.accountId,
    Partition: account.partition,
    Stage: config.stage,
    Namespace: binding.namespace,
    ServiceAccount: binding.serviceAccount,
    ClusterArns: clusterArns,
  });
  const roleName = podIdentityRoleNameFor(config.roleNamePrefix, binding.name, config.stage);
  const pin = trust.pinned
    ? `pinned to ${clusterArns.length} selected clusters`
    : 'not pinned to clusters (none selected, or too many for the trust policy)';
  return {
    mode: 'pod-identity',
    roleName,
    arn: roleArnOf(account, config.rolePath, roleName),
    path: config.rolePath,
    bindingName: binding.name,
    trustPolicy: trust.document,
    inlinePolicies: inlinePolicies(binding, builtins, templates, {
      kind: 'pod-identity',
      regions: config.regions,
    }),
    tags: { ...config.tags, ...podIdentityOwnershipTags(config.stage, binding.name) },
    permissionsBoundaryArn: config.permissionsBoundaryArn,
    description: truncateDescription(
      `EKS Pod Identity role for ${binding.namespace}/${binding.serviceAccount} on every selected cluster (${pin}), managed by irsa-reconciler stage ${config.stage}`,
    ),
  };
}

/** IAM's limit on a role description. */
const DESCRIPTION_MAX_LENGTH = 1000;

function truncateDescription(text: string): string {
  return text.length <= DESCRIPTION_MAX_LENGTH ? text : `${text.slice(0, DESCRIPTION_MAX_LENGTH - 1)}…`;
}

/** A binding's inline policies, named `<template>` (then `<template>-2`, ...), within IAM's size limit. */
function inlinePolicies(
  binding: Binding,
  builtins: BuiltinValues,
  templates: TemplateCatalog,
  mode: RenderMode,
): Record<string, PolicyDocument> {
  const policies: Record<string, PolicyDocument> = {};
  const occurrences = new Map<string, number>();
  let size = 0;
  for (const policy of binding.policies) {
    const occurrence = (occurrences.get(policy.template) ?? 0) + 1;
    occurrences.set(policy.template, occurrence);
    const document = renderPolicyTemplate(
      templates,
      { template: policy.template, binding: binding.name },
      policy.params,
      builtins,
      { mode },
    );
    size += policySize(document);
    policies[inlinePolicyName(policy.template, occurrence)] = document;
  }
  if (size > INLINE_POLICIES_MAX_SIZE) {
    throw new TemplateError(
      `binding "${binding.name}": inline policies total ${size} characters, over IAM's limit of ${INLINE_POLICIES_MAX_SIZE} per role`,
    );
  }
  return policies;
}

function desiredRole(
  config: ReconcilerConfig,
  account: AccountInfo,
  cluster: ClusterInfo,
  issuerHost: string,
  providerArn: string,
  binding: Binding,
  templates: TemplateCatalog,
): DesiredIrsaRole {
  const builtins: BuiltinValues = {
    AccountId: account.accountId,
    Partition: account.partition,
    Region: cluster.region,
    ClusterName: cluster.name,
    ClusterArn: cluster.arn,
    Stage: config.stage,
    Namespace: binding.namespace,
    ServiceAccount: binding.serviceAccount,
  };
  const trustPolicy = renderTrustPolicy(templates, { ...builtins, OidcIssuer: issuerHost });
  const role: DesiredIrsaRole = {
    mode: 'irsa',
    roleName: roleNameFor(config.roleNamePrefix, cluster.region, cluster.name, binding.name, config.stage),
    path: config.rolePath,
    region: cluster.region,
    clusterName: cluster.name,
    bindingName: binding.name,
    oidcProviderArn: providerArn,
    trustPolicy,
    inlinePolicies: inlinePolicies(binding, builtins, templates, { kind: 'irsa' }),
    tags: { ...config.tags, ...ownershipTags(config.stage, cluster.region, cluster.name, binding.name) },
    permissionsBoundaryArn: config.permissionsBoundaryArn,
    description: `IRSA role for system:serviceaccount:${binding.namespace}:${binding.serviceAccount} on EKS cluster ${cluster.name} (${cluster.region}), managed by irsa-reconciler stage ${config.stage}`,
  };
  return role;
}

/**
 * Two targets with one role name (a hash collision; IAM compares names case-insensitively) would fight
 * over the role: neither gets it.
 */
function dropNameCollisions(roles: DesiredRole[], skipped: SkippedTarget[]): DesiredRole[] {
  const count = new Map<string, number>();
  for (const role of roles) {
    const key = role.roleName.toLowerCase();
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return roles.filter((role) => {
    if (count.get(role.roleName.toLowerCase()) === 1) return true;
    skipped.push({
      region: role.mode === 'irsa' ? role.region : '',
      clusterName: role.mode === 'irsa' ? role.clusterName : '',
      bindingName: role.bindingName,
      reason: `role name ${role.roleName} is computed for more than one target; change roleNamePrefix or the binding name`,
    });
    return false;
  });
}
