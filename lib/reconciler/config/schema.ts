import { z } from 'zod';
import { ConfigError, TemplateError } from '../../errors';
import { issueLines } from '../../util/zod-issues';
import type { Partition, ReconcilerConfig } from '../types';
import { BUILTIN_TEMPLATES } from './catalog';
import { ROLE_NAME_PREFIX_MAX_LENGTH } from './naming';
import {
  type BuiltinValues,
  INLINE_POLICIES_MAX_SIZE,
  policySize,
  renderModeOf,
  renderPodIdentityTrustPolicy,
  renderPolicyTemplate,
  type TemplateCatalog,
} from './templates';

/**
 * The reconciler's configuration: the JSON object users write, validated once at cold start.
 * Unknown keys are errors (a typo must not silently fall back to a default); every message starts with
 * the path of the field at fault, e.g. `bindings[1].namespace: ...`.
 */

export interface ConfigContext {
  stage: string;
  /** The region the stack runs in: default for `regions`, and the partition every region must share. */
  deploymentRegion: string;
  /** Templates to validate bindings against; the shipped ones by default. */
  templates?: TemplateCatalog;
}

/** Tag keys under this prefix belong to the reconciler (ownership tags). */
export const RESERVED_TAG_PREFIX = 'irsa-reconciler/';
/** IAM allows 50 tags per role; the reconciler puts five of its own. */
export const MAX_USER_TAGS = 45;
export const DEFAULT_OPT_OUT_TAG_KEY = 'irsa-reconciler/opt-out';

const REGION = /^[a-z]{2,4}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
const STAGE = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
const CLUSTER_GLOB = /^[A-Za-z0-9_*?-]{1,100}$/;
const BINDING_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ROLE_PATH = /^\/([\x21-\x7E]+\/)?$/;
const ROLE_NAME_PREFIX = /^[\w+=,.@-]*$/;
const EVENT_BUS_ARN = /^arn:(aws|aws-cn|aws-us-gov):events:[a-z0-9-]+:\d{12}:event-bus\/[\w.-]{1,256}$/;
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/([\x21-\x7E]*\/)?[\w+=,.@-]{1,64}$/;
const BOUNDARY_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy\/([\x21-\x7E]*\/)?[\w+=,.@-]{1,128}$/;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

const tagKey = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'at most 128 characters')
  .regex(TAG_TEXT, 'letters, digits, spaces and _ . : / = + - @ only');

const regionSchema = z.string().regex(REGION, 'not an AWS region name (e.g. eu-west-1)');

const policyBindingSchema = z.strictObject({
  template: z.string().regex(TEMPLATE_NAME, 'a template name: lowercase letters, digits and -'),
  params: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default(() => ({})),
});

const bindingSchema = z.strictObject({
  name: z.string().regex(BINDING_NAME, 'lowercase letters, digits and -, at most 32 characters'),
  namespace: z
    .string()
    .regex(DNS_LABEL, 'a Kubernetes namespace name (DNS-1123 label, at most 63 characters)'),
  serviceAccount: z
    .string()
    .max(253, 'at most 253 characters')
    .regex(DNS_SUBDOMAIN, 'a Kubernetes ServiceAccount name (DNS-1123 subdomain)'),
  policies: z.array(policyBindingSchema).default(() => []),
  mode: z.enum(['irsa', 'pod-identity']).optional(),
});

const configSchema = z.strictObject({
  regions: z.array(regionSchema).min(1, 'list at least one region').optional(),
  clusters: z
    .strictObject({
      include: z
        .array(z.string().regex(CLUSTER_GLOB, 'a cluster name glob (letters, digits, - _ * ?)'))
        .default(() => []),
      exclude: z
        .array(z.string().regex(CLUSTER_GLOB, 'a cluster name glob (letters, digits, - _ * ?)'))
        .default(() => []),
      optInTagKey: tagKey.optional(),
      optOutTagKey: tagKey.default(DEFAULT_OPT_OUT_TAG_KEY),
    })
    .default(() => ({ include: [], exclude: [], optOutTagKey: DEFAULT_OPT_OUT_TAG_KEY })),
  bindings: z.array(bindingSchema),
  rolePath: z
    .string()
    .max(512, 'at most 512 characters')
    .regex(ROLE_PATH, 'an IAM path: starts and ends with /, printable ASCII')
    .refine((value) => value !== '/', 'must not be "/": the reconciler needs a path of its own')
    .optional(),
  roleNamePrefix: z
    .string()
    .max(ROLE_NAME_PREFIX_MAX_LENGTH, `at most ${ROLE_NAME_PREFIX_MAX_LENGTH} characters`)
    .regex(ROLE_NAME_PREFIX, 'IAM role name characters only (letters, digits, + = , . @ _ -)')
    .default('irsa-'),
  permissionsBoundaryArn: z.string().regex(BOUNDARY_ARN, 'an IAM managed policy ARN'),
  tags: z
    .record(
      z.string(),
      z.string().max(256, 'at most 256 characters').regex(TAG_TEXT, 'invalid tag value characters'),
    )
    .default(() => ({})),
  prune: z.boolean().default(true),
  maxPruneFraction: z
    .number()
    .gt(0, 'must be greater than 0')
    .lte(1, 'must be at most 1 (a share of the owned roles)')
    .default(0.5),
  forcePrune: z.boolean().default(false),
  allowForcePruneOnInvoke: z.boolean().default(false),
  detachUnmanagedPolicies: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  createOidcProvider: z.boolean().default(false),
  defaultMode: z.enum(['irsa', 'pod-identity']).default('irsa'),
  podIdentity: z
    .strictObject({
      installAgent: z.boolean().default(false),
      verifyEveryRuns: z
        .number()
        .int('must be a whole number')
        .min(1, 'must be at least 1 (every run)')
        .max(12, 'must be at most 12 (a day of two-hour runs)')
        .default(1),
    })
    .default(() => ({ installAgent: false, verifyEveryRuns: 1 })),
  publishRoleArns: z.boolean().default(false),
  // Written by the stack (config/stage-values.js), never by hand: null when cluster events are off.
  eventForwarding: z
    .strictObject({
      busArn: z.string().regex(EVENT_BUS_ARN, 'an EventBridge event bus ARN'),
      roleArn: z.string().regex(ROLE_ARN, 'an IAM role ARN'),
    })
    .nullable()
    .optional(),
  concurrency: z.number().int('must be a whole number').min(1).max(64).default(8),
});

type RawConfig = z.infer<typeof configSchema>;

/** The partition a region belongs to, or undefined for partitions the reconciler does not support. */
export function partitionOfRegion(region: string): Partition | undefined {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (/^(us-iso|eusc-)/.test(region)) return undefined;
  return 'aws';
}

/** Validates the user's JSON configuration; throws ConfigError (or TemplateError) naming the field. */
export function parseReconcilerConfig(raw: unknown, context: ConfigContext): ReconcilerConfig {
  if (!STAGE.test(context.stage)) {
    throw new ConfigError(`stage: "${context.stage}" must be letters, digits and -, at most 32 characters`);
  }
  if (!REGION.test(context.deploymentRegion)) {
    throw new ConfigError(`deploymentRegion: "${context.deploymentRegion}" is not an AWS region name`);
  }
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ConfigError(issueLines(parsed.error.issues).join('\n'));
  const data = parsed.data;
  const config: ReconcilerConfig = {
    stage: context.stage,
    deploymentRegion: context.deploymentRegion,
    regions: data.regions ?? [context.deploymentRegion],
    clusters: data.clusters,
    bindings: data.bindings.map(({ mode, ...binding }) => ({ ...binding, mode: mode ?? data.defaultMode })),
    rolePath: data.rolePath ?? `/irsa-reconciler/${context.stage}/`,
    roleNamePrefix: data.roleNamePrefix,
    tags: data.tags,
    prune: data.prune,
    maxPruneFraction: data.maxPruneFraction,
    forcePrune: data.forcePrune,
    allowForcePruneOnInvoke: data.allowForcePruneOnInvoke,
    detachUnmanagedPolicies: data.detachUnmanagedPolicies,
    dryRun: data.dryRun,
    createOidcProvider: data.createOidcProvider,
    podIdentity: data.podIdentity,
    publishRoleArns: data.publishRoleArns,
    ...(data.eventForwarding !== undefined ? { eventForwarding: data.eventForwarding } : {}),
    concurrency: data.concurrency,
    permissionsBoundaryArn: data.permissionsBoundaryArn,
  };
  const problems = [...crossFieldProblems(data, config)];
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  checkTemplates(config, context.templates ?? BUILTIN_TEMPLATES);
  return config;
}

function* crossFieldProblems(data: RawConfig, config: ReconcilerConfig): Generator<string> {
  const partition = partitionOfRegion(config.deploymentRegion);
  if (partition === undefined) {
    yield `deploymentRegion: "${config.deploymentRegion}" is in a partition the reconciler does not support`;
    return;
  }
  if (config.clusters.include.length === 0 && config.clusters.optInTagKey === undefined) {
    yield 'clusters: select clusters explicitly with clusters.include (name globs) and/or clusters.optInTagKey (a tag the cluster must carry with the value "true"): whoever can create a selected cluster receives every binding\'s role';
  }
  const optIn = config.clusters.optInTagKey;
  if (optIn !== undefined && optIn.toLowerCase() === config.clusters.optOutTagKey.toLowerCase()) {
    yield `clusters.optInTagKey: "${optIn}" is also the opt-out tag key`;
  }
  const seenRegions = new Set<string>();
  for (const [index, region] of config.regions.entries()) {
    if (seenRegions.has(region)) yield `regions[${index}]: "${region}" is listed twice`;
    seenRegions.add(region);
    if (partitionOfRegion(region) !== partition) {
      yield `regions[${index}]: "${region}" is not in partition ${partition} of the deployment region ${config.deploymentRegion} (IAM is per partition)`;
    }
  }
  const boundaryPartition = data.permissionsBoundaryArn?.split(':')[1];
  if (boundaryPartition !== undefined && boundaryPartition !== partition) {
    yield `permissionsBoundaryArn: partition ${boundaryPartition} does not match ${partition}`;
  }
  const tagKeys = Object.keys(config.tags);
  if (tagKeys.length > MAX_USER_TAGS) yield `tags: at most ${MAX_USER_TAGS} tags (IAM allows 50 per role)`;
  const seenTagKeys = new Map<string, string>();
  for (const key of tagKeys) {
    const problem = tagKeyProblem(key);
    if (problem) yield `tags.${key}: ${problem}`;
    const folded = key.toLowerCase();
    const other = seenTagKeys.get(folded);
    if (other !== undefined) yield `tags.${key}: same key as "${other}" (IAM tag keys are case-insensitive)`;
    seenTagKeys.set(folded, key);
  }
  const seenBindings = new Map<string, number>();
  const seenPodAccounts = new Map<string, number>();
  for (const [index, binding] of config.bindings.entries()) {
    const first = seenBindings.get(binding.name);
    if (first !== undefined)
      yield `bindings[${index}].name: "${binding.name}" is already used by bindings[${first}]`;
    else seenBindings.set(binding.name, index);
    if (binding.mode !== 'pod-identity') continue;
    // EKS holds one association per namespace and ServiceAccount in a cluster.
    const account = `${binding.namespace}/${binding.serviceAccount}`;
    const other = seenPodAccounts.get(account);
    if (other !== undefined) {
      yield `bindings[${index}]: pod-identity binding for ${account} duplicates bindings[${other}] (EKS allows one association per namespace and ServiceAccount)`;
    } else seenPodAccounts.set(account, index);
  }
}

function tagKeyProblem(key: string): string | undefined {
  const result = tagKey.safeParse(key);
  if (!result.success) return result.error.issues[0]?.message;
  const folded = key.toLowerCase();
  if (folded.startsWith('aws:')) return 'keys starting with "aws:" are reserved by AWS';
  if (folded.startsWith(RESERVED_TAG_PREFIX)) {
    return `keys starting with "${RESERVED_TAG_PREFIX}" are the reconciler's ownership tags and may not be set`;
  }
  return undefined;
}

/**
 * Renders every binding's policies once with worst-case values (a 100-character cluster name, the
 * longest configured region) so a missing parameter, unknown variable or an oversized policy fails at
 * cold start instead of in the middle of a run.
 */
function checkTemplates(config: ReconcilerConfig, templates: TemplateCatalog): void {
  const partition = partitionOfRegion(config.deploymentRegion) ?? 'aws';
  const longestRegion = config.regions.reduce((a, b) => (b.length > a.length ? b : a));
  config.bindings.forEach((binding, bindingIndex) => {
    const builtins: BuiltinValues = {
      AccountId: '000000000000',
      Partition: partition,
      Region: longestRegion,
      ClusterName: 'c'.repeat(100),
      ClusterArn: `arn:${partition}:eks:${longestRegion}:000000000000:cluster/${'c'.repeat(100)}`,
      Stage: config.stage,
      Namespace: binding.namespace,
      ServiceAccount: binding.serviceAccount,
    };
    let total = 0;
    binding.policies.forEach((policy, policyIndex) => {
      try {
        const context = { template: policy.template, binding: binding.name };
        const mode = renderModeOf(binding.mode, config.regions);
        total += policySize(renderPolicyTemplate(templates, context, policy.params, builtins, { mode }));
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        throw new TemplateError(`bindings[${bindingIndex}].policies[${policyIndex}]: ${error.message}`, {
          cause: error,
        });
      }
    });
    if (total > INLINE_POLICIES_MAX_SIZE) {
      const what =
        binding.mode === 'pod-identity'
          ? `in pod-identity mode over ${config.regions.length} regions (statements using \${Region} are written once per region)`
          : 'for a 100-character cluster name';
      throw new TemplateError(
        `bindings[${bindingIndex}].policies: binding "${binding.name}" renders ${total} characters of inline policies ${what}, over IAM's limit of ${INLINE_POLICIES_MAX_SIZE} per role`,
      );
    }
    if (binding.mode === 'pod-identity') {
      try {
        renderPodIdentityTrustPolicy(templates, {
          AccountId: '000000000000',
          Partition: partition,
          Stage: config.stage,
          Namespace: binding.namespace,
          ServiceAccount: binding.serviceAccount,
          ClusterArns: [],
        });
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        throw new TemplateError(`bindings[${bindingIndex}]: ${error.message}`, { cause: error });
      }
    }
  });
}
