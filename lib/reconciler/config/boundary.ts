import { TemplateError } from '../../errors';
import type { Binding, PolicyDocument, PolicyStatement } from '../types';
import { BUILTIN_TEMPLATES } from './catalog';
import { type BuiltinValues, renderPolicyTemplate, type TemplateCatalog } from './templates';

/**
 * The permissions boundary the stack creates for every role the reconciler makes: the ceiling of what
 * the configured bindings can grant. Each binding's policies are rendered once with the per-cluster
 * variables as wildcards (`${Region}` and `${ClusterName}` → `*`), so the boundary allows exactly the
 * union of what any cluster's role of any binding may get, and nothing else: a reconciler whose
 * credentials are abused can create roles, but none that reaches further than the configuration.
 *
 * Account and partition stay CloudFormation tokens (`${AWS::AccountId}`), as do parameter values that
 * name stack resources (`${DataBucket}`): the stack resolves them at deploy time.
 */

/** IAM's limit on a managed policy document (characters, whitespace not counted). */
export const MANAGED_POLICY_MAX_SIZE = 6_144;

// biome-ignore-start lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub tokens, resolved at deploy
const CEILING_BUILTINS = {
  AccountId: '${AWS::AccountId}',
  Partition: '${AWS::Partition}',
  Region: '*',
  ClusterName: '*',
  ClusterArn: 'arn:${AWS::Partition}:eks:*:${AWS::AccountId}:cluster/*',
} as const;
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub tokens, resolved at deploy

export interface CeilingInput {
  stage: string;
  bindings: readonly Binding[];
  templates?: TemplateCatalog;
}

/**
 * How exact the ceiling is. IAM allows 6,144 characters per managed policy, so a large configuration
 * gets a coarser one, each level only as coarse as it must be:
 * - `exact`: the bindings' statements, per-cluster parts as wildcards;
 * - `without-conditions`: Allow conditions dropped (e.g. the s3:prefix limit of ListBucket);
 * - `resource-level`: resources widened to their bucket, application or resource type
 *   (`arn:aws:s3:::bucket/*`, `...:secret:*`), still per account, region and service as configured.
 */
export type CeilingPrecision = 'exact' | 'without-conditions' | 'resource-level';

export interface Ceiling {
  document: PolicyDocument;
  precision: CeilingPrecision;
}

/** The boundary document, at the most exact precision that fits; past that, a TemplateError says what to do. */
export function permissionsCeiling(input: CeilingInput): Ceiling {
  const templates = input.templates ?? BUILTIN_TEMPLATES;
  const statements: PolicyStatement[] = [];
  for (const binding of input.bindings) {
    const builtins: BuiltinValues = {
      ...CEILING_BUILTINS,
      Stage: input.stage,
      Namespace: binding.namespace,
      ServiceAccount: binding.serviceAccount,
    };
    for (const policy of binding.policies) {
      const document = renderPolicyTemplate(
        templates,
        { template: policy.template, binding: binding.name },
        policy.params,
        builtins,
        { unchecked: true },
      );
      statements.push(...document.Statement);
    }
  }
  if (statements.length === 0) {
    // A boundary must hold a statement; with no binding it allows nothing that matters.
    statements.push({ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' });
  }
  let size = 0;
  for (const precision of ['exact', 'without-conditions', 'resource-level'] as const) {
    const document: PolicyDocument = {
      Version: '2012-10-17',
      Statement: mergeStatements(statements, precision),
    };
    size = JSON.stringify(document).length;
    if (size <= MANAGED_POLICY_MAX_SIZE) return { document, precision };
  }
  throw new TemplateError(
    `the permissions boundary for ${input.bindings.length} bindings would be ${size} characters even at ` +
      `resource level, over IAM's managed policy limit of ${MANAGED_POLICY_MAX_SIZE}: name an existing ` +
      'boundary in permissionsBoundaryArn, or split the bindings across stages',
  );
}

/** One statement per distinct (Effect, actions, condition); resources unioned, order of first use kept. */
function mergeStatements(
  statements: readonly PolicyStatement[],
  precision: CeilingPrecision,
): PolicyStatement[] {
  const groups = new Map<string, { statement: PolicyStatement; resources: string[] }>();
  for (const statement of statements) {
    const { Sid: _sid, Resource, Condition, ...rest } = statement;
    const base: PolicyStatement = { ...rest };
    // A Deny keeps its condition at every precision: dropping it would deny more, not less.
    const keepCondition = precision === 'exact' || statement.Effect === 'Deny';
    if (keepCondition && Condition !== undefined) base.Condition = Condition;
    const key = JSON.stringify(sortKeys(base));
    const group = groups.get(key) ?? { statement: base, resources: [] };
    groups.set(key, group);
    for (const listed of asList(Resource)) {
      const resource =
        precision === 'resource-level' && statement.Effect === 'Allow' ? widen(listed) : listed;
      if (!group.resources.includes(resource)) group.resources.push(resource);
    }
  }
  return [...groups.values()].map(({ statement, resources }) => ({
    ...statement,
    Resource: resources.length === 1 ? resources[0] : resources,
  }));
}

/**
 * A resource ARN widened to its container: an S3 object to its bucket's objects, an ARN whose resource
 * holds `type/id/...` to `type/id/*`, one holding `type:name` to `type:*`.
 */
export function widen(arn: string): string {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return arn;
  const head = parts.slice(0, 5).join(':');
  const resource = parts.slice(5).join(':');
  if (parts[2] === 's3') {
    const slash = resource.indexOf('/');
    return slash < 0 ? arn : `${head}:${resource.slice(0, slash)}/*`;
  }
  const segments = resource.split('/');
  if (segments.length > 2) return `${head}:${segments.slice(0, 2).join('/')}/*`;
  const colon = resource.indexOf(':');
  if (colon >= 0) return `${head}:${resource.slice(0, colon)}:*`;
  return arn;
}

function asList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys).sort();
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, sortKeys(item)]),
    );
  }
  return value;
}
