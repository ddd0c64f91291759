import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import podIdentityTrustPolicy from '../../../templates/trust-policy-pod-identity.json';
import { TemplateError } from '../../errors';
import type { AccessMode, PolicyDocument, PolicyStatement } from '../types';

/**
 * Policy templates: JSON documents with `${Variable}` placeholders, rendered as a JSON tree (never as
 * text, so a value can not break the JSON). Rules:
 * - `${Name}` (letters and digits) is a template variable; anything else in `${...}` — IAM's own policy
 *   variables such as `${aws:username}` or `${*}` — is left as it is.
 * - A string holding a List parameter renders to one string per item: `"${SecretArns}"` becomes the list
 *   itself, `"...:secret:${SecretNamePrefixes}*"` one ARN per prefix; inside an array the items are
 *   spliced in place. An empty list renders to nothing.
 * - Object keys may hold String variables only.
 *
 * What the per-cluster variables render to depends on the binding's mode:
 *
 * | variable         | irsa (one role per cluster)  | pod-identity (one role for the fleet)                  |
 * | ---------------- | ---------------------------- | ------------------------------------------------------ |
 * | `${ClusterName}` | the cluster's name           | `${aws:PrincipalTag/eks-cluster-name}` (session tag)   |
 * | `${ClusterArn}`  | the cluster's ARN            | `${aws:PrincipalTag/eks-cluster-arn}` (session tag)    |
 * | `${Region}`      | the cluster's region         | each scanned region, see below                         |
 *
 * In pod-identity mode a statement that uses `${Region}` is written once per scanned region, each
 * copy with the condition `StringLike aws:PrincipalTag/eks-cluster-arn: arn:<partition>:eks:<region>:
 * <account>:cluster/*`: a pod gets the resources of its own cluster's region only, as an IRSA role
 * would. Every other variable renders the same in both modes. A template that cannot be rendered so
 * (`${Region}` in an object key, or a statement that already conditions on that tag) is a
 * TemplateError, which the configuration check turns into a configuration error at cold start.
 */

/** Variables every template may use, filled per (region, cluster, binding). */
export const BUILTIN_VARIABLES = [
  'AccountId',
  'Partition',
  'Region',
  'ClusterName',
  'ClusterArn',
  'Stage',
  'Namespace',
  'ServiceAccount',
] as const;
export type BuiltinVariable = (typeof BUILTIN_VARIABLES)[number];
export type BuiltinValues = Record<BuiltinVariable, string>;

/** Session-tag forms of the per-cluster variables in pod-identity mode. */
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: IAM policy variables, resolved by IAM per request
export const POD_IDENTITY_CLUSTER_NAME = '${aws:PrincipalTag/eks-cluster-name}';
export const POD_IDENTITY_CLUSTER_ARN = '${aws:PrincipalTag/eks-cluster-arn}';
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: IAM policy variables, resolved by IAM per request
const CLUSTER_ARN_TAG = 'aws:PrincipalTag/eks-cluster-arn';
// biome-ignore lint/suspicious/noTemplateCurlyInString: the template variable, as written in templates
const REGION_VARIABLE = '${Region}';

/** Variables of the Pod Identity trust policy: the binding's identity and the clusters it is pinned to. */
export const POD_IDENTITY_TRUST_VARIABLES = [
  'AccountId',
  'Partition',
  'Stage',
  'Namespace',
  'ServiceAccount',
  'ClusterArns',
] as const;
export type PodIdentityTrustValues = Record<
  Exclude<(typeof POD_IDENTITY_TRUST_VARIABLES)[number], 'ClusterArns'>,
  string
> & {
  ClusterArns: string[];
};

/** The trust policy template also gets the cluster's issuer without `https://`. */
export const TRUST_VARIABLES = [...BUILTIN_VARIABLES, 'OidcIssuer'] as const;
export type TrustValues = BuiltinValues & { OidcIssuer: string };

/** IAM quota: aggregate size of a role's inline policies (characters, whitespace not counted). */
export const INLINE_POLICIES_MAX_SIZE = 10_240;
/** IAM quota: role trust policy length (default quota; can be raised to 4,096). */
export const TRUST_POLICY_MAX_SIZE = 2_048;

/** Directory of the templates shipped with the project (`templates/` at the repository root). */
export const DEFAULT_TEMPLATES_DIR = path.resolve(__dirname, '..', '..', '..', 'templates');

export interface TemplateParameter {
  type: 'String' | 'List';
  description?: string;
  pattern?: RegExp;
  /** Absent: the parameter is required. */
  default?: string | string[];
}

export interface PolicyTemplate {
  name: string;
  description: string;
  parameters: Record<string, TemplateParameter>;
  /** Sid → List parameter: the statement is left out while that list is empty. */
  onlyWith: Record<string, string>;
  /** The raw document tree, placeholders included. */
  document: unknown;
}

export interface TemplateCatalog {
  trustPolicy: unknown;
  /** The trust policy of Pod Identity roles (templates/trust-policy-pod-identity.json by default). */
  podIdentityTrustPolicy: unknown;
  policies: ReadonlyMap<string, PolicyTemplate>;
}

/** Where a rendering happens, for error messages. */
export interface TemplateContext {
  template: string;
  binding: string;
}

const VARIABLE = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PARAMETER_NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;

const parameterSchema = z.strictObject({
  Type: z.enum(['String', 'List']),
  Description: z.string().optional(),
  Pattern: z.string().optional(),
  Default: z.union([z.string(), z.array(z.string())]).optional(),
});
const templateFileSchema = z.strictObject({
  Description: z.string().default(''),
  /**
   * Statements (by Sid) rendered only when the named List parameter is not empty, for an optional
   * grant such as the key of a customer-managed secret: `{ "DecryptWithKeys": "KmsKeyArns" }`.
   */
  OnlyWith: z.record(z.string(), z.string()).default({}),
  Parameters: z.record(z.string(), parameterSchema).default({}),
  PolicyDocument: z.looseObject({ Statement: z.unknown() }),
});

/** Builds a catalog from parsed JSON values, checking every template once. */
export function createTemplateCatalog(input: {
  trustPolicy: unknown;
  podIdentityTrustPolicy?: unknown;
  policies: Record<string, unknown>;
}): TemplateCatalog {
  checkVariables('trust-policy', input.trustPolicy, new Set<string>(TRUST_VARIABLES));
  const podTrust = input.podIdentityTrustPolicy ?? podIdentityTrustPolicy;
  checkVariables('trust-policy-pod-identity', podTrust, new Set<string>(POD_IDENTITY_TRUST_VARIABLES));
  const policies = new Map<string, PolicyTemplate>();
  for (const [name, raw] of Object.entries(input.policies))
    policies.set(name, parsePolicyTemplate(name, raw));
  return { trustPolicy: input.trustPolicy, podIdentityTrustPolicy: podTrust, policies };
}

/** Reads `<dir>/trust-policy.json` and `<dir>/policies/*.json` (for custom template sets and tools). */
export function loadTemplateCatalog(dir: string): TemplateCatalog {
  const policiesDir = path.join(dir, 'policies');
  const policies: Record<string, unknown> = {};
  for (const file of readdirSync(policiesDir).sort()) {
    if (file.endsWith('.json'))
      policies[file.slice(0, -'.json'.length)] = readJson(path.join(policiesDir, file));
  }
  const podTrustFile = path.join(dir, 'trust-policy-pod-identity.json');
  return createTemplateCatalog({
    trustPolicy: readJson(path.join(dir, 'trust-policy.json')),
    ...(existsSync(podTrustFile) ? { podIdentityTrustPolicy: readJson(podTrustFile) } : {}),
    policies,
  });
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TemplateError(`template file ${file} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function parsePolicyTemplate(name: string, raw: unknown): PolicyTemplate {
  if (!TEMPLATE_NAME.test(name)) {
    throw new TemplateError(`template "${name}": name must be lowercase letters, digits and '-'`);
  }
  const parsed = templateFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new TemplateError(`template "${name}": ${where}: ${issue?.message ?? 'invalid template file'}`);
  }
  const parameters: Record<string, TemplateParameter> = {};
  for (const [param, spec] of Object.entries(parsed.data.Parameters)) {
    parameters[param] = parseParameter(name, param, spec);
  }
  const used = checkVariables(
    name,
    parsed.data.PolicyDocument,
    new Set([...BUILTIN_VARIABLES, ...Object.keys(parameters)]),
  );
  const unused = Object.keys(parameters).filter((param) => !used.has(param));
  if (unused.length > 0) {
    throw new TemplateError(`template "${name}": parameter ${unused.join(', ')} is declared but never used`);
  }
  const sids = new Set(
    [parsed.data.PolicyDocument.Statement]
      .flat()
      .map((statement) => (statement as { Sid?: unknown } | null)?.Sid)
      .filter((sid): sid is string => typeof sid === 'string'),
  );
  for (const [sid, param] of Object.entries(parsed.data.OnlyWith)) {
    if (!sids.has(sid))
      throw new TemplateError(`template "${name}": OnlyWith names no statement with Sid "${sid}"`);
    if (parameters[param]?.type !== 'List') {
      throw new TemplateError(
        `template "${name}": OnlyWith.${sid} must name a List parameter (got "${param}")`,
      );
    }
  }
  return {
    name,
    description: parsed.data.Description,
    parameters,
    onlyWith: parsed.data.OnlyWith,
    document: parsed.data.PolicyDocument,
  };
}

function parseParameter(
  template: string,
  param: string,
  spec: z.infer<typeof parameterSchema>,
): TemplateParameter {
  const where = `template "${template}": parameter "${param}"`;
  if (!PARAMETER_NAME.test(param)) {
    throw new TemplateError(
      `${where}: name must start with an upper-case letter and hold letters and digits`,
    );
  }
  if ((BUILTIN_VARIABLES as readonly string[]).includes(param)) {
    throw new TemplateError(`${where}: shadows the built-in variable \${${param}}`);
  }
  let pattern: RegExp | undefined;
  if (spec.Pattern !== undefined) {
    try {
      pattern = new RegExp(spec.Pattern, 'u');
    } catch (error) {
      throw new TemplateError(`${where}: Pattern is not a valid regular expression`, { cause: error });
    }
  }
  const parameter: TemplateParameter = { type: spec.Type, description: spec.Description, pattern };
  if (spec.Default !== undefined) {
    parameter.default = checkParamValue(parameter, spec.Default, where);
  }
  return parameter;
}

/** Checks that every `${Name}` in the tree is allowed; returns the names used. */
function checkVariables(template: string, tree: unknown, allowed: ReadonlySet<string>): Set<string> {
  const used = new Set<string>();
  for (const text of stringsIn(tree)) {
    for (const match of text.matchAll(VARIABLE)) {
      const variable = match[1] ?? '';
      if (!allowed.has(variable)) {
        throw new TemplateError(
          `template "${template}": unknown variable \${${variable}} (known: ${[...allowed].join(', ')})`,
        );
      }
      used.add(variable);
    }
  }
  return used;
}

function* stringsIn(tree: unknown): Generator<string> {
  if (typeof tree === 'string') yield tree;
  else if (Array.isArray(tree)) for (const item of tree) yield* stringsIn(item);
  else if (typeof tree === 'object' && tree !== null) {
    for (const [key, value] of Object.entries(tree)) {
      yield key;
      yield* stringsIn(value);
    }
  }
}

/** Validates one parameter value against its declaration; a single string is accepted for a List. */
function checkParamValue(
  parameter: TemplateParameter,
  value: string | string[],
  where: string,
): string | string[] {
  if (parameter.type === 'String' && Array.isArray(value)) {
    throw new TemplateError(`${where}: expects a single string, got a list`);
  }
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (item === '') throw new TemplateError(`${where}: must not be empty`);
    if (parameter.pattern && !parameter.pattern.test(item)) {
      throw new TemplateError(`${where}: value "${item}" does not match ${parameter.pattern.source}`);
    }
  }
  if (parameter.type === 'List' && new Set(items).size !== items.length) {
    throw new TemplateError(`${where}: list holds the same value twice`);
  }
  return parameter.type === 'List' ? items : value;
}

/**
 * Renders one policy template for one binding on one cluster. Throws TemplateError naming the template,
 * binding and parameter on a missing, unknown or invalid parameter, and on a document that renders to an
 * invalid IAM policy (for example an empty `Resource` because every list parameter was empty).
 */
export function renderPolicyTemplate(
  catalog: TemplateCatalog,
  context: TemplateContext,
  params: Record<string, string | string[]>,
  builtins: BuiltinValues,
  options: RenderOptions = {},
): PolicyDocument {
  const where = `template "${context.template}" (binding "${context.binding}")`;
  const template = catalog.policies.get(context.template);
  if (!template) {
    const known = [...catalog.policies.keys()].sort().join(', ');
    throw new TemplateError(`${where}: no such template (known: ${known})`);
  }
  const values = new Map<string, string | string[]>(Object.entries(builtins));
  for (const param of Object.keys(params)) {
    if (!Object.hasOwn(template.parameters, param)) {
      const declared = Object.keys(template.parameters).join(', ') || 'none';
      throw new TemplateError(`${where}: unknown parameter "${param}" (the template declares: ${declared})`);
    }
  }
  for (const [param, parameter] of Object.entries(template.parameters)) {
    const given = params[param];
    const value = given ?? parameter.default;
    if (value === undefined) throw new TemplateError(`${where}: parameter "${param}" is required`);
    values.set(
      param,
      given === undefined || options.unchecked
        ? value
        : checkParamValue(parameter, given, `${where}: parameter "${param}"`),
    );
  }
  const present = withoutEmptyOptionalStatements(template, values);
  const document =
    options.mode?.kind === 'pod-identity'
      ? perRegionStatements(present, options.mode.regions, where)
      : present;
  if (options.mode?.kind === 'pod-identity') {
    values.set('ClusterName', POD_IDENTITY_CLUSTER_NAME);
    values.set('ClusterArn', POD_IDENTITY_CLUSTER_ARN);
    values.delete('Region');
  }
  // An OnlyWith parameter never empties a statement (its statement is left out instead).
  const optional = new Set(Object.values(template.onlyWith));
  const empty = emptyLists(values).filter((name) => !optional.has(name));
  return toPolicyDocument(renderTree(document, values, where), where, empty);
}

/** The template document without the OnlyWith statements whose List parameter is empty. */
function withoutEmptyOptionalStatements(
  template: PolicyTemplate,
  values: ReadonlyMap<string, string | string[]>,
): unknown {
  const skipped = new Set(
    Object.entries(template.onlyWith)
      .filter(([, param]) => (values.get(param) ?? []).length === 0)
      .map(([sid]) => sid),
  );
  if (skipped.size === 0) return template.document;
  const record = template.document as Record<string, unknown>;
  const statements = [record.Statement].flat() as Array<{ Sid?: unknown }>;
  return {
    ...record,
    Statement: statements.filter(
      (statement) => !(typeof statement.Sid === 'string' && skipped.has(statement.Sid)),
    ),
  };
}

/** How the per-cluster variables render (see the table above). */
export type RenderMode = { kind: 'irsa' } | { kind: 'pod-identity'; regions: readonly string[] };

export function renderModeOf(mode: AccessMode, regions: readonly string[]): RenderMode {
  return mode === 'pod-identity' ? { kind: 'pod-identity', regions } : { kind: 'irsa' };
}

/**
 * The template document with each statement that uses `${Region}` written once per region: `${Region}`
 * replaced by the region, the Sid suffixed with it, and a condition pinning the caller's cluster to
 * that region.
 */
function perRegionStatements(document: unknown, regions: readonly string[], where: string): unknown {
  const record = document as Record<string, unknown>;
  const listed = Array.isArray(record.Statement) ? record.Statement : [record.Statement];
  const statements = listed.flatMap((statement: unknown) => {
    if (![...stringsIn(statement)].some((text) => text.includes(REGION_VARIABLE))) return [statement];
    const copy = statement as Record<string, unknown>;
    for (const key of Object.keys(copy.Condition ?? {})) {
      const block = (copy.Condition as Record<string, Record<string, unknown>>)[key] ?? {};
      if (Object.hasOwn(block, CLUSTER_ARN_TAG)) {
        throw new TemplateError(
          `${where}: a statement using \${Region} already conditions on ${CLUSTER_ARN_TAG}; it cannot be rendered for pod-identity`,
        );
      }
    }
    return regions.map((region) => {
      const rendered = replaceText(statement, REGION_VARIABLE, region, where) as Record<string, unknown>;
      const condition = (rendered.Condition ?? {}) as Record<string, Record<string, unknown>>;
      const sid = typeof rendered.Sid === 'string' ? { Sid: `${rendered.Sid}${sidSuffix(region)}` } : {};
      return {
        ...rendered,
        ...sid,
        Condition: {
          ...condition,
          StringLike: {
            ...(condition.StringLike ?? {}),
            [CLUSTER_ARN_TAG]: `arn:\${Partition}:eks:${region}:\${AccountId}:cluster/*`,
          },
        },
      };
    });
  });
  return { ...record, Statement: statements };
}

function replaceText(node: unknown, from: string, to: string, where: string): unknown {
  if (typeof node === 'string') return node.replaceAll(from, to);
  if (Array.isArray(node)) return node.map((item) => replaceText(item, from, to, where));
  if (typeof node === 'object' && node !== null) {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => {
        if (key.includes(from)) {
          throw new TemplateError(
            `${where}: \${Region} in an object key cannot be rendered for pod-identity`,
          );
        }
        return [key, replaceText(value, from, to, where)];
      }),
    );
  }
  return node;
}

/** `eu-west-1` → `EuWest1` (a Sid holds letters and digits only). */
function sidSuffix(region: string): string {
  return region
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

export interface RenderOptions {
  /**
   * Parameter values are not checked against their patterns: for the stack's permissions ceiling, whose
   * values may still hold CloudFormation tokens (`${DataBucket}`) that are resolved at deploy time.
   */
  unchecked?: boolean;
  /** Default irsa: the per-cluster variables are the given builtins. */
  mode?: RenderMode;
}

/** Renders the trust policy; refuses any result holding a wildcard or a `StringLike` condition. */
export function renderTrustPolicy(catalog: TemplateCatalog, values: TrustValues): PolicyDocument {
  const where = 'template "trust-policy"';
  const document = toPolicyDocument(
    renderTree(catalog.trustPolicy, new Map(Object.entries(values)), where),
    where,
    [],
  );
  const text = JSON.stringify(document);
  if (text.includes('*') || text.includes('StringLike')) {
    throw new TemplateError(`${where}: a trust policy must not hold a wildcard or a StringLike condition`);
  }
  if (text.length > TRUST_POLICY_MAX_SIZE) {
    throw new TemplateError(
      `${where}: ${text.length} characters, over IAM's limit of ${TRUST_POLICY_MAX_SIZE}`,
    );
  }
  return document;
}

/**
 * Renders the Pod Identity trust policy. The cluster pin (`aws:RequestTag/eks-cluster-arn`, the selected
 * clusters' ARNs) is kept while the document fits IAM's trust policy limit; with no cluster, or too many
 * to fit, it is left out and `pinned` is false: the role then relies on the account, namespace and
 * ServiceAccount conditions and on the associations, which only the reconciler (iam:PassRole on its own
 * roles) makes.
 */
export function renderPodIdentityTrustPolicy(
  catalog: TemplateCatalog,
  values: PodIdentityTrustValues,
): { document: PolicyDocument; pinned: boolean } {
  const where = 'template "trust-policy-pod-identity"';
  const render = (clusterArns: string[]): PolicyDocument => {
    const tree = renderTree(
      catalog.podIdentityTrustPolicy,
      new Map<string, string | string[]>([...Object.entries(values), ['ClusterArns', clusterArns]]),
      where,
    );
    return toPolicyDocument(withoutEmptyConditionValues(tree), where, []);
  };
  const check = (document: PolicyDocument): number => {
    const text = JSON.stringify(document);
    if (text.includes('*') || text.includes('StringLike')) {
      throw new TemplateError(`${where}: a trust policy must not hold a wildcard or a StringLike condition`);
    }
    return text.length;
  };
  const sorted = [...new Set(values.ClusterArns)].sort();
  if (sorted.length > 0) {
    const pinned = render(sorted);
    if (check(pinned) <= TRUST_POLICY_MAX_SIZE) return { document: pinned, pinned: true };
  }
  const unpinned = render([]);
  const size = check(unpinned);
  if (size > TRUST_POLICY_MAX_SIZE) {
    throw new TemplateError(`${where}: ${size} characters, over IAM's limit of ${TRUST_POLICY_MAX_SIZE}`);
  }
  return { document: unpinned, pinned: false };
}

/** Drops condition keys whose values rendered to an empty list (IAM refuses an empty condition). */
function withoutEmptyConditionValues(tree: unknown): unknown {
  const record = tree as { Statement?: unknown };
  const statements = Array.isArray(record.Statement) ? record.Statement : [record.Statement];
  return {
    ...record,
    Statement: statements.map((statement) => {
      const { Condition, ...rest } = statement as { Condition?: Record<string, Record<string, unknown>> };
      if (Condition === undefined) return statement;
      const kept = Object.fromEntries(
        Object.entries(Condition)
          .map(([operator, block]) => [
            operator,
            Object.fromEntries(
              Object.entries(block).filter(([, value]) => !(Array.isArray(value) && value.length === 0)),
            ),
          ])
          .filter(([, block]) => Object.keys(block as object).length > 0),
      );
      return Object.keys(kept).length > 0 ? { ...rest, Condition: kept } : rest;
    }),
  };
}

/** The size IAM counts for a policy document (minified JSON). */
export function policySize(document: PolicyDocument): number {
  return JSON.stringify(document).length;
}

function emptyLists(values: ReadonlyMap<string, string | string[]>): string[] {
  return [...values].filter(([, value]) => Array.isArray(value) && value.length === 0).map(([name]) => name);
}

type Rendered = { list: false; value: unknown } | { list: true; values: string[] };

function renderTree(tree: unknown, values: ReadonlyMap<string, string | string[]>, where: string): unknown {
  const rendered = renderNode(tree, values, where);
  return rendered.list ? rendered.values : rendered.value;
}

function renderNode(node: unknown, values: ReadonlyMap<string, string | string[]>, where: string): Rendered {
  if (typeof node === 'string') return renderString(node, values, where);
  if (Array.isArray(node)) {
    const out: unknown[] = [];
    for (const item of node) {
      const rendered = renderNode(item, values, where);
      if (rendered.list) out.push(...rendered.values);
      else out.push(rendered.value);
    }
    return { list: false, value: out };
  }
  if (typeof node === 'object' && node !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const renderedKey = renderString(key, values, where);
      if (renderedKey.list)
        throw new TemplateError(`${where}: object key "${key}" may not hold a List parameter`);
      out[String(renderedKey.value)] = renderTree(value, values, where);
    }
    return { list: false, value: out };
  }
  return { list: false, value: node };
}

function renderString(text: string, values: ReadonlyMap<string, string | string[]>, where: string): Rendered {
  if (!text.includes('${')) return { list: false, value: text };
  let results = [''];
  let list = false;
  let last = 0;
  for (const match of text.matchAll(VARIABLE)) {
    const variable = match[1] ?? '';
    const value = values.get(variable);
    if (value === undefined) throw new TemplateError(`${where}: unknown variable \${${variable}}`);
    const literal = text.slice(last, match.index);
    const choices = Array.isArray(value) ? value : [value];
    list ||= Array.isArray(value);
    results = results.flatMap((prefix) => choices.map((choice) => `${prefix}${literal}${choice}`));
    last = match.index + match[0].length;
  }
  const tail = text.slice(last);
  results = results.map((prefix) => `${prefix}${tail}`);
  return list ? { list: true, values: results } : { list: false, value: results[0] ?? '' };
}

const ACTION_KEYS = ['Action', 'NotAction'] as const;
const RESOURCE_KEYS = ['Resource', 'NotResource'] as const;

/** Checks the rendered tree is an IAM policy document with non-empty actions and resources. */
function toPolicyDocument(tree: unknown, where: string, emptyListParams: readonly string[]): PolicyDocument {
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) {
    throw new TemplateError(`${where}: does not render to a JSON object`);
  }
  const { Version, Statement, ...rest } = tree as Record<string, unknown>;
  if (Version !== '2012-10-17') throw new TemplateError(`${where}: Version must be "2012-10-17"`);
  const statements = Array.isArray(Statement) ? Statement : [Statement];
  if (statements.length === 0) throw new TemplateError(`${where}: Statement is empty`);
  const hint = emptyListParams.length > 0 ? ` (empty list parameters: ${emptyListParams.join(', ')})` : '';
  statements.forEach((statement: unknown, index) => {
    if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) {
      throw new TemplateError(`${where}: Statement[${index}] is not an object`);
    }
    const record = statement as PolicyStatement;
    const label = `Statement[${index}]${typeof record.Sid === 'string' ? ` ("${record.Sid}")` : ''}`;
    if (record.Effect !== 'Allow' && record.Effect !== 'Deny') {
      throw new TemplateError(`${where}: ${label}: Effect must be "Allow" or "Deny"`);
    }
    for (const keys of [ACTION_KEYS, RESOURCE_KEYS]) {
      const present = keys.filter((key) => key in record);
      if (present.length === 0 && !(keys === RESOURCE_KEYS && 'Principal' in record)) {
        throw new TemplateError(`${where}: ${label}: needs ${keys.join(' or ')}`);
      }
      for (const key of present) {
        const value = record[key];
        if (value === '' || (Array.isArray(value) && value.length === 0)) {
          throw new TemplateError(`${where}: ${label}: ${key} is empty after rendering${hint}`);
        }
      }
    }
  });
  return { Version, Statement: statements as PolicyStatement[], ...rest };
}
