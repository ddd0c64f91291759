import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { CfnTemplate } from './stack-template';
import { REPO_ROOT } from './stack-template';

/**
 * IAM policy evaluation of the packaged stack with a real evaluation engine (@cloud-copilot/iam-simulate,
 * a test-only devDependency under AGPL-3.0: it is never bundled into a function). The template's
 * policies are resolved as CloudFormation would resolve them in one account and region, then each
 * request (principal, action, resource, request context) is evaluated against the identity policies
 * of a role and, where one applies, a permissions boundary.
 */

export const ACCOUNT_ID = '123456789012';
export const REGION = 'eu-west-1';
export const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT_ID}:stack/irsa-reconciler-uat/5b8f2a10-a8e2-11f1-9a3c-06d1e2b3c4f5`;

/** The packaged template of a stage (scripts/package.sh keeps one per stage in .packaged/). */
export function readStageTemplate(stage: string): CfnTemplate {
  const path = join(REPO_ROOT, '.packaged', `${stage}.json`);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`npm run package -- ${stage}\` (scripts/test.sh packages every stage)`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as CfnTemplate;
}

export interface ResolveContext {
  stage: string;
  /** Values of Conditions (Fn::If); a condition not given is resolved from the template's parameters. */
  conditions?: Record<string, boolean>;
  /** Ref values beyond the pseudo parameters (resource ids, parameters). */
  refs?: Record<string, string>;
  /** Fn::GetAtt values, by `Logical.Attribute`. */
  attributes?: Record<string, string>;
}

/** Values a deploy gives the attributes of the stack's own resources (the ids AppConfig assigns). */
const DEPLOYED_ATTRIBUTES: Record<string, string> = {
  'ReconcilerConfigApplication.ApplicationId': 'cfg1234',
  'ReconcilerConfigProfile.ConfigurationProfileId': 'rcp1234',
  'ReconcilerConfigVersion.VersionNumber': '1',
};
const DEPLOYED_REFS: Record<string, string> = {
  AppConfigApplication: 'app1234',
  AppConfigEnvironment: 'env1234',
  AppConfigProfile: 'prf1234',
};

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves a template value as CloudFormation would: Fn::Sub, Fn::If, Ref, Fn::GetAtt, Fn::Equals. */
export function resolveCfn(template: CfnTemplate, value: unknown, context: ResolveContext): unknown {
  const resolved = resolveNode(template, value, context);
  return resolved === NO_VALUE ? undefined : resolved;
}

function refValue(template: CfnTemplate, name: string, context: ResolveContext): string {
  const given = context.refs?.[name] ?? DEPLOYED_REFS[name];
  if (given !== undefined) return given;
  switch (name) {
    case 'AWS::AccountId':
      return ACCOUNT_ID;
    case 'AWS::Region':
      return REGION;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackId':
      return STACK_ID;
  }
  const parameter = template.Parameters?.[name];
  if (parameter) return String(parameter.Default ?? '');
  const resource = template.Resources[name];
  if (!resource) throw new Error(`Ref to unknown ${name}`);
  const properties = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::IAM::ManagedPolicy': {
      const path = String(properties.Path ?? '/');
      const policyName = String(resolveCfn(template, properties.ManagedPolicyName, context) ?? name);
      return `arn:aws:iam::${ACCOUNT_ID}:policy${path}${policyName}`;
    }
    case 'AWS::IAM::Role':
      return String(resolveCfn(template, properties.RoleName, context) ?? name);
    case 'AWS::S3::Bucket':
      return String(resolveCfn(template, properties.BucketName, context) ?? name);
    case 'AWS::SQS::Queue':
      return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/${String(resolveCfn(template, properties.QueueName, context))}`;
    default:
      return `${name.toLowerCase().slice(0, 7)}`;
  }
}

function attributeValue(
  template: CfnTemplate,
  logical: string,
  attribute: string,
  context: ResolveContext,
): string {
  const key = `${logical}.${attribute}`;
  const given = context.attributes?.[key] ?? DEPLOYED_ATTRIBUTES[key];
  if (given !== undefined) return given;
  const resource = template.Resources[logical];
  if (!resource) throw new Error(`Fn::GetAtt of unknown ${logical}`);
  if (attribute === 'Arn') {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      const roleName =
        properties.RoleName === undefined ? logical : resolveCfn(template, properties.RoleName, context);
      return `arn:aws:iam::${ACCOUNT_ID}:role${String(resolveCfn(template, properties.Path, context) ?? '/')}${String(roleName)}`;
    }
    if (resource.Type === 'AWS::DynamoDB::Table') {
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${String(resolveCfn(template, properties.TableName, context))}`;
    }
    if (resource.Type === 'AWS::Events::EventBus') {
      return `arn:aws:events:${REGION}:${ACCOUNT_ID}:event-bus/${String(resolveCfn(template, properties.Name, context))}`;
    }
    if (resource.Type === 'AWS::SQS::Queue') {
      return `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${String(resolveCfn(template, properties.QueueName, context))}`;
    }
    if (resource.Type === 'AWS::Lambda::Function') {
      return `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${String(resolveCfn(template, properties.FunctionName, context))}`;
    }
  }
  throw new Error(`no value for Fn::GetAtt ${key}`);
}

function conditionValue(template: CfnTemplate, name: string, context: ResolveContext): boolean {
  const given = context.conditions?.[name];
  if (given !== undefined) return given;
  const definition = template.Conditions?.[name];
  if (definition === undefined) throw new Error(`unknown condition ${name}`);
  return Boolean(resolveCfn(template, definition, context));
}

function resolveNode(template: CfnTemplate, value: unknown, context: ResolveContext): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolveNode(template, item, context)).filter((item) => item !== NO_VALUE);
  }
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const [key] = keys;
    const argument = record[key as string];
    switch (key) {
      case 'Ref':
        return argument === 'AWS::NoValue' ? NO_VALUE : refValue(template, String(argument), context);
      case 'Fn::GetAtt': {
        const [logical, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return attributeValue(template, String(logical), String(attribute), context);
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = argument as [string, unknown, unknown];
        return resolveNode(
          template,
          conditionValue(template, condition, context) ? whenTrue : whenFalse,
          context,
        );
      }
      case 'Fn::Equals': {
        const [a, b] = (argument as unknown[]).map((item) => resolveNode(template, item, context));
        return String(a) === String(b);
      }
      case 'Fn::Not':
        return !resolveNode(template, (argument as unknown[])[0], context);
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
        return String(text).replace(/\$\{(!?)([^}]*)\}/g, (_match, escaped: string, name: string) => {
          if (escaped) return `\${${name}}`;
          const local = (variables as Record<string, unknown>)[name];
          if (local !== undefined) return String(resolveNode(template, local, context));
          if (name.includes('.') && !name.startsWith('AWS::')) {
            const [logical, attribute] = name.split('.');
            return attributeValue(template, String(logical), String(attribute), context);
          }
          return refValue(template, name, context);
        });
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    const resolved = resolveNode(template, item, context);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

export interface NamedPolicy {
  name: string;
  policy: unknown;
}

/** Every identity policy of a role: its managed policies of the template, and its inline policies. */
export function identityPoliciesOf(
  template: CfnTemplate,
  roleId: string,
  context: ResolveContext,
): NamedPolicy[] {
  const role = template.Resources[roleId];
  if (!role) throw new Error(`the template has no ${roleId}`);
  const properties = role.Properties ?? {};
  const policies: NamedPolicy[] = [];
  for (const arn of (properties.ManagedPolicyArns as unknown[] | undefined) ?? []) {
    const id = (arn as { Ref?: string }).Ref;
    if (!id)
      throw new Error(`${roleId}: a managed policy that is not in the template: ${JSON.stringify(arn)}`);
    policies.push({ name: id, policy: policyDocumentOf(template, id, context) });
  }
  for (const inline of (properties.Policies as
    | { PolicyName: string; PolicyDocument: unknown }[]
    | undefined) ?? []) {
    policies.push({
      name: `${roleId}/${inline.PolicyName}`,
      policy: resolveCfn(template, inline.PolicyDocument, context),
    });
  }
  return policies;
}

/** A managed policy's document as deployed (a JSON string from Fn::Sub is parsed). */
export function policyDocumentOf(template: CfnTemplate, policyId: string, context: ResolveContext): unknown {
  const document = resolveCfn(template, template.Resources[policyId]?.Properties?.PolicyDocument, context);
  return typeof document === 'string' ? JSON.parse(document) : document;
}

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export interface EvaluationRequest {
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  identityPolicies: NamedPolicy[];
  /** The principal's permissions boundary, if it has one. */
  boundary?: unknown;
  /** The resource's own policy (a KMS key policy: KMS allows nothing without one). */
  resourcePolicy?: unknown;
  /** The resource's account, when not the principal's. */
  resourceAccount?: string;
}

/** The engine's decision for one request; a request the engine cannot evaluate throws with its errors. */
export async function evaluate(request: EvaluationRequest): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: request.resourceAccount ?? ACCOUNT_ID },
        contextVariables: request.context ?? {},
      },
      identityPolicies: request.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
      ...(request.boundary
        ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: request.boundary }] }
        : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(
      `the engine could not evaluate ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult as Decision;
}
