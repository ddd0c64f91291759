/**
 * The reconciler's data model. Observe → plan(desired, observed) → apply(actions) → report.
 * Types only; the functions live beside this file.
 */

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov';

/** An IAM policy document as JSON (trust or permissions). Compared semantically, never as text. */
export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}
export type PolicyStatement = Record<string, unknown>;

export interface PolicyBinding {
  /** File name under templates/policies/ without `.json`, e.g. `s3-prefix-access`. */
  template: string;
  params: Record<string, string | string[]>;
}

/**
 * How a binding reaches AWS: `irsa`, one role per (cluster, binding) trusted by the cluster's OIDC
 * provider; `pod-identity`, one role per binding for the whole fleet and one EKS Pod Identity
 * association per selected cluster.
 */
export type AccessMode = 'irsa' | 'pod-identity';

export interface Binding {
  /** Short stable id of the binding: part of role names, tags and inline policy names. */
  name: string;
  namespace: string;
  serviceAccount: string;
  policies: PolicyBinding[];
  /** The binding's own `mode`, or the stage's `defaultMode`. */
  mode: AccessMode;
}

export interface PodIdentitySettings {
  /** Create the `eks-pod-identity-agent` add-on on a selected cluster that lacks it (else: skipped). */
  installAgent: boolean;
  /**
   * Describe each association in place at least once every this many two-hour windows (1: every run).
   * Above 1, an association at a wanted namespace/ServiceAccount is described only in its window and
   * otherwise taken as it was; every association is described in any run that may delete a role.
   */
  verifyEveryRuns: number;
}

export interface ClusterSelector {
  /** Name globs (`*`, `?`) a cluster must match; empty: no name criterion (then optInTagKey is required). */
  include: string[];
  /** A cluster must carry this tag with the value "true" (case-insensitive); with include, both must hold. */
  optInTagKey?: string;
  exclude: string[];
  /** A cluster carrying this tag key with a value of "true" (case-insensitive) is left alone. */
  optOutTagKey: string;
}

export interface ReconcilerConfig {
  stage: string;
  /** The region the stack is deployed in (STS, default for `regions`). */
  deploymentRegion: string;
  regions: string[];
  clusters: ClusterSelector;
  bindings: Binding[];
  /** `/irsa-reconciler/<stage>/` by default; starts and ends with `/`. */
  rolePath: string;
  roleNamePrefix: string;
  /** Every role carries it; the stack's IAM policy lets the reconciler write no role without it. */
  permissionsBoundaryArn: string;
  /** Extra tags put on every role (ownership tags always win). */
  tags: Record<string, string>;
  prune: boolean;
  /** Refuse to delete more than this share (0..1] of the owned roles in one run... */
  maxPruneFraction: number;
  /** ...unless this is set. */
  forcePrune: boolean;
  /** A manual invocation may ask for `forcePrune` only when the deployment allows it here. */
  allowForcePruneOnInvoke: boolean;
  /** Detach managed policies attached by hand to owned roles (otherwise they are only reported). */
  detachUnmanagedPolicies: boolean;
  dryRun: boolean;
  createOidcProvider: boolean;
  podIdentity: PodIdentitySettings;
  /**
   * Publish each IRSA role's ARN as an SSM parameter `/irsa-reconciler/<stage>/roles/<cluster>/<binding>`
   * in its cluster's region, reconciled and removed with the role.
   */
  publishRoleArns: boolean;
  /**
   * Cluster events from the other scanned regions: a rule in each forwards EKS CreateCluster and
   * DeleteCluster calls to the stack's bus (with the role EventBridge assumes to put them there).
   * `null`: the stack turned cluster events off, so owned forwarding rules are removed; absent: this
   * configuration does not manage them (a local plan, say), so they are neither read nor changed.
   */
  eventForwarding?: EventForwarding | null;
  /** Upper bound on AWS calls in flight at once. */
  concurrency: number;
}

export interface EventForwarding {
  busArn: string;
  roleArn: string;
}

/** A rule forwarding one region's EKS cluster calls to the stack's bus. */
export interface DesiredForwardingRule {
  region: string;
  name: string;
  /** JSON, as EventBridge stores it. */
  eventPattern: string;
  busArn: string;
  roleArn: string;
}

/** The forwarding rule's name in one region, as read (or why it could not be). */
export type ObservedForwardingRule =
  | { region: string; status: 'absent' }
  | {
      region: string;
      status: 'present';
      /** Carries this deployment's ownership tags. */
      owned: boolean;
      eventPattern: string;
      state: string;
      targets: Array<{ id: string; arn: string; roleArn?: string }>;
    }
  | { region: string; status: 'unknown'; error: string };

export interface AccountInfo {
  accountId: string;
  partition: Partition;
}

export type ClusterStatus = 'CREATING' | 'ACTIVE' | 'DELETING' | 'FAILED' | 'UPDATING' | 'PENDING' | string;

export interface ClusterInfo {
  name: string;
  region: string;
  arn: string;
  status: ClusterStatus;
  /** `https://oidc.eks.<region>.amazonaws.com/id/<id>`; absent when EKS reports none. */
  oidcIssuer?: string;
  tags: Record<string, string>;
}

/**
 * The outcome of one region's scan. A region whose scan failed or was cut short is `unknown`:
 * the clusters it did list are still reconciled, but nothing in it is ever pruned.
 */
export type RegionScan =
  | { region: string; status: 'complete'; clusters: ClusterInfo[] }
  | { region: string; status: 'unknown'; clusters: ClusterInfo[]; error: string };

export interface Discovery {
  account: AccountInfo;
  regions: RegionScan[];
  /** ARNs of the account's IAM OIDC providers. */
  oidcProviderArns: string[];
}

interface DesiredRoleBase {
  roleName: string;
  path: string;
  bindingName: string;
  trustPolicy: PolicyDocument;
  /** Inline policy name → document. */
  inlinePolicies: Record<string, PolicyDocument>;
  tags: Record<string, string>;
  permissionsBoundaryArn: string;
  description: string;
}

/** An IRSA role: one (region, cluster, binding), trusted by the cluster's OIDC provider. */
export interface DesiredIrsaRole extends DesiredRoleBase {
  mode: 'irsa';
  region: string;
  clusterName: string;
  oidcProviderArn: string;
}

/** A Pod Identity role: one binding on every selected cluster, trusted by pods.eks.amazonaws.com. */
export interface DesiredPodIdentityRole extends DesiredRoleBase {
  mode: 'pod-identity';
  /** The role's ARN (associations name it before it exists). */
  arn: string;
}

export type DesiredRole = DesiredIrsaRole | DesiredPodIdentityRole;

/** An EKS Pod Identity association: one binding on one cluster. */
export interface DesiredAssociation {
  region: string;
  clusterName: string;
  bindingName: string;
  namespace: string;
  serviceAccount: string;
  roleName: string;
  roleArn: string;
  tags: Record<string, string>;
}

/** What identifies an association for the plan and the report. */
export interface AssociationRef {
  region: string;
  clusterName: string;
  namespace: string;
  serviceAccount: string;
  bindingName: string;
}

/** A (cluster, binding) pair that gets no role this run, and why. */
export interface SkippedTarget {
  region: string;
  clusterName: string;
  bindingName?: string;
  reason: string;
}

/** OIDC providers to create (only with `createOidcProvider`). */
export interface DesiredOidcProvider {
  region: string;
  clusterName: string;
  issuerUrl: string;
  arn: string;
}

/** An SSM parameter holding an IRSA role's ARN, for deploy tooling (Helm values) to read. */
export interface PublishedParameter {
  region: string;
  name: string;
  /** The role's ARN. */
  value: string;
}

export interface DesiredParameter extends PublishedParameter {
  /** The role whose ARN it holds: put only once that role's actions went through. */
  roleName: string;
}

export interface DesiredState {
  roles: DesiredRole[];
  oidcProviders: DesiredOidcProvider[];
  associations: DesiredAssociation[];
  /** Empty unless `publishRoleArns`. */
  parameters: DesiredParameter[];
  skipped: SkippedTarget[];
}

export interface ObservedRole {
  roleName: string;
  path: string;
  arn: string;
  /** URL-decoded and parsed. */
  trustPolicy: PolicyDocument;
  tags: Record<string, string>;
  inlinePolicies: Record<string, PolicyDocument>;
  permissionsBoundaryArn?: string;
  /** Managed policies attached to the role (read for owned roles only; the reconciler attaches none). */
  attachedPolicyArns: string[];
}

/** A role this deployment does not own, by name: its name can not be given to a desired role. */
export interface TakenName {
  roleName: string;
  path: string;
}

/** An association as DescribePodIdentityAssociation returns it. */
export interface ObservedAssociation {
  region: string;
  clusterName: string;
  associationId: string;
  namespace: string;
  serviceAccount: string;
  roleArn: string;
  tags: Record<string, string>;
  /** Set when an EKS add-on owns the association: never touched. */
  ownerArn?: string;
  /** False when it was listed but not described this run (podIdentity.verifyEveryRuns): role and tags unknown. */
  verified?: false;
}

/** One cluster's associations as observed, or why they could not be read (then nothing there changes). */
export type ClusterAssociations =
  | {
      region: string;
      clusterName: string;
      status: 'complete';
      /** Every association of the cluster, described or not (for the per-cluster quota). */
      total: number;
      /** The associations at a namespace/ServiceAccount the reconciler looks after, described. */
      associations: ObservedAssociation[];
      /** The eks-pod-identity-agent add-on's status (read only where an association is to be made). */
      agent?: string;
    }
  | { region: string; clusterName: string; status: 'unknown'; error: string };

export interface ObservedState {
  /** The roles this deployment owns (the plan still checks ownership per role from its path and tags). */
  roles: ObservedRole[];
  /** Every other role of the account, by lowercased name (IAM names are case-insensitive). */
  takenNames?: ReadonlyMap<string, TakenName>;
  oidcProviderArns: string[];
  /** Per cluster, by JSON [region, cluster]; absent when no binding uses (or used) Pod Identity. */
  associations?: ReadonlyMap<string, ClusterAssociations>;
  /** The published parameters per region (undefined: the region's could not be read); absent unless publishing. */
  parameters?: ReadonlyMap<string, PublishedParameter[] | undefined>;
  /** The forwarding rule's name in every region looked at; absent unless the configuration manages them. */
  forwarding?: ObservedForwardingRule[];
}

/** The closed set of actions a plan is made of. */
export type Action =
  | { kind: 'create-oidc-provider'; provider: DesiredOidcProvider }
  | { kind: 'create'; role: DesiredRole }
  | { kind: 'update-trust'; roleName: string; trustPolicy: PolicyDocument }
  | { kind: 'put-policy'; roleName: string; policyName: string; document: PolicyDocument }
  | { kind: 'delete-policy'; roleName: string; policyName: string }
  | { kind: 'tag'; roleName: string; tags: Record<string, string> }
  | { kind: 'set-boundary'; roleName: string; permissionsBoundaryArn: string }
  | { kind: 'detach-policy'; roleName: string; policyArn: string }
  | { kind: 'delete'; roleName: string; reason: string }
  | { kind: 'no-op'; roleName: string }
  | { kind: 'install-agent'; region: string; clusterName: string }
  | { kind: 'create-association'; association: DesiredAssociation }
  | {
      kind: 'update-association';
      association: AssociationRef;
      associationId: string;
      roleArn: string;
      roleName: string;
    }
  | { kind: 'delete-association'; association: AssociationRef; associationId: string; reason: string }
  | { kind: 'association-no-op'; association: AssociationRef; associationId: string }
  | { kind: 'put-parameter'; parameter: DesiredParameter; create: boolean }
  | { kind: 'delete-parameter'; region: string; name: string; reason: string }
  | { kind: 'put-forwarding-rule'; rule: DesiredForwardingRule; create: boolean; extraTargetIds: string[] }
  | { kind: 'delete-forwarding-rule'; region: string; name: string; reason: string }
  | { kind: 'forwarding-no-op'; region: string; name: string };

export type ActionKind = Action['kind'];

/** A managed policy attached by hand to an owned role: more permissions than the configuration grants. */
export interface DriftFinding {
  roleName: string;
  policyArn: string;
  /** Whether the plan detaches it (`detachUnmanagedPolicies`) or only reports it. */
  detach: boolean;
}

export interface Plan {
  actions: Action[];
  skipped: SkippedTarget[];
  /** Managed policies attached to owned roles outside the reconciler. */
  drift: DriftFinding[];
  /**
   * Set when the deletion guard held back prunes; the deletes are not in `actions`. Roles and
   * associations are counted together.
   */
  pruneBlocked?: { wouldDelete: number; owned: number; maxPruneFraction: number };
}

export type ActionOutcome =
  | { status: 'succeeded' }
  | { status: 'planned' }
  | { status: 'failed'; error: string; retryable: boolean };

export interface ActionResult {
  action: Action;
  outcome: ActionOutcome;
}

export interface ReportCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

export interface RegionReport {
  region: string;
  status: 'complete' | 'unknown';
  clusters: number;
  error?: string;
}

export interface ReconcileReport {
  dryRun: boolean;
  account: AccountInfo;
  regions: RegionReport[];
  results: ActionResult[];
  skipped: SkippedTarget[];
  drift: DriftFinding[];
  pruneBlocked?: Plan['pruneBlocked'];
  counts: ReportCounts;
  /** `{ "IAM:ListRoles": 2, ... }` for this run. */
  apiCalls: Record<string, number>;
  /** True when any region is unknown or any action failed. */
  failed: boolean;
}
