import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reading and checking the CloudFormation template that `npm run package` writes. The checks are plain
 * functions returning findings, so their own tests can feed them small bad templates.
 */

export const REPO_ROOT = join(__dirname, '..', '..');
export const PACKAGE_DIR = join(REPO_ROOT, '.serverless');
export const TEMPLATE_PATH = join(PACKAGE_DIR, 'cloudformation-template-update-stack.json');

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
  Parameters?: Record<string, { Default?: unknown }>;
  Conditions?: Record<string, unknown>;
}

/** The packaged template; a missing package is a failure that says how to make it. */
export function readPackagedTemplate(): CfnTemplate {
  if (!existsSync(TEMPLATE_PATH)) {
    throw new Error(
      `${TEMPLATE_PATH} is missing: run \`npm run package\` first (scripts/test.sh does it before jest)`,
    );
  }
  return JSON.parse(readFileSync(TEMPLATE_PATH, 'utf8')) as CfnTemplate;
}

export function dependsOn(resource: CfnResource | undefined): string[] {
  const value = resource?.DependsOn;
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Every statement a list may produce: both branches of an Fn::If are taken (a condition may be either
 * value in some deployment), AWS::NoValue yields nothing.
 */
export function expandStatements(statements: unknown): Record<string, unknown>[] {
  return asArray(statements).flatMap((statement): Record<string, unknown>[] => {
    if (!isRecord(statement)) return [];
    const branches = statement['Fn::If'];
    if (Array.isArray(branches)) return [...expandStatements(branches[1]), ...expandStatements(branches[2])];
    if (isRecord(statement.Ref) || statement.Ref === 'AWS::NoValue') return [];
    return [statement];
  });
}

export interface LocatedStatement {
  /** `<logical id>` or `<logical id>/<inline policy name>`. */
  where: string;
  statement: Record<string, unknown>;
}

/** The identity-based policy statements of the template (roles, users, groups, managed and inline policies). */
export function identityPolicyStatements(template: CfnTemplate): LocatedStatement[] {
  const found: LocatedStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const properties = resource.Properties ?? {};
    if (['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy', 'AWS::IAM::RolePolicy'].includes(resource.Type)) {
      const document = properties.PolicyDocument;
      if (isRecord(document)) {
        for (const statement of expandStatements(document.Statement)) found.push({ where: id, statement });
      }
    }
    if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(resource.Type)) {
      for (const policy of asArray(properties.Policies)) {
        if (!isRecord(policy) || !isRecord(policy.PolicyDocument)) continue;
        const where = `${id}/${String(policy.PolicyName)}`;
        for (const statement of expandStatements(policy.PolicyDocument.Statement))
          found.push({ where, statement });
      }
    }
  }
  return found;
}

/** Action name prefixes that only read; anything else counts as a write. */
const READ_ONLY_VERBS = ['Get', 'List', 'Describe', 'Head'];

export function isReadOnlyAction(action: string): boolean {
  const verb = action.split(':')[1] ?? '';
  return READ_ONLY_VERBS.some((prefix) => verb.startsWith(prefix)) && !verb.includes('*');
}

/**
 * Findings of the least-privilege rules: no Allow of `*`, `iam:*` or any `service:*`; no wildcard
 * that can match a write action; no NotAction/NotResource in an Allow; no write action on Resource "*".
 */
export function iamFindings(template: CfnTemplate): string[] {
  const findings: string[] = [];
  for (const { where, statement } of identityPolicyStatements(template)) {
    if (statement.Effect !== 'Allow') continue;
    if (statement.NotAction !== undefined) findings.push(`${where}: Allow with NotAction`);
    if (statement.NotResource !== undefined) findings.push(`${where}: Allow with NotResource`);
    const actions = asArray(statement.Action).map(String);
    const resources = asArray(statement.Resource);
    for (const action of actions) {
      if (action === '*' || /^[a-z0-9-]+:\*$/i.test(action)) {
        findings.push(`${where}: Allow of every action (${action})`);
      } else if (
        action.includes('*') &&
        !READ_ONLY_VERBS.some((verb) => action.split(':')[1]?.startsWith(verb))
      ) {
        findings.push(`${where}: wildcard action ${action} can match write actions`);
      }
      if (!isReadOnlyAction(action) && resources.includes('*')) {
        findings.push(`${where}: write action ${action} on Resource "*"`);
      }
    }
  }
  return findings;
}

function refersTo(value: unknown, logicalId: string): boolean {
  return isRecord(value) && value.Ref === logicalId;
}

function isPublicPrincipal(principal: unknown): boolean {
  if (principal === '*') return true;
  if (!isRecord(principal)) return false;
  return asArray(principal.AWS).includes('*');
}

function deniesInsecureTransport(statement: Record<string, unknown>): boolean {
  if (statement.Effect !== 'Deny' || !isPublicPrincipal(statement.Principal)) return false;
  const actions = asArray(statement.Action);
  if (!actions.includes('s3:*')) return false;
  const condition = statement.Condition;
  if (!isRecord(condition) || !isRecord(condition.Bool)) return false;
  const value = condition.Bool['aws:SecureTransport'];
  if (value !== false && value !== 'false') return false;
  // Both the bucket and its objects: one resource names the objects (`.../*`), another does not.
  const resources = asArray(statement.Resource).map((resource) => JSON.stringify(resource));
  return resources.some((text) => text.includes('/*')) && resources.some((text) => !text.includes('/*'));
}

/**
 * Findings of the bucket rules: default encryption, all four Block Public Access settings, a bucket
 * policy that denies every non-TLS request, and no Allow to a public principal.
 */
export function bucketFindings(template: CfnTemplate): string[] {
  const findings: string[] = [];
  const policies = resourcesOfType(template, 'AWS::S3::BucketPolicy');
  for (const [id, bucket] of resourcesOfType(template, 'AWS::S3::Bucket')) {
    const properties = bucket.Properties ?? {};
    const encryption = properties.BucketEncryption;
    const rules = isRecord(encryption) ? asArray(encryption.ServerSideEncryptionConfiguration) : [];
    const encrypted = rules.some(
      (rule) =>
        isRecord(rule) &&
        isRecord(rule.ServerSideEncryptionByDefault) &&
        ['AES256', 'aws:kms', 'aws:kms:dsse'].includes(
          String(rule.ServerSideEncryptionByDefault.SSEAlgorithm),
        ),
    );
    if (!encrypted) findings.push(`${id}: no default encryption`);

    const block = properties.PublicAccessBlockConfiguration;
    const settings = ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'];
    const missing = settings.filter((name) => !isRecord(block) || block[name] !== true);
    if (missing.length > 0) findings.push(`${id}: Block Public Access off (${missing.join(', ')})`);

    const statements = policies
      .filter(([, policy]) => refersTo(policy.Properties?.Bucket, id))
      .flatMap(([, policy]) => {
        const document = policy.Properties?.PolicyDocument;
        return isRecord(document) ? expandStatements(document.Statement) : [];
      });
    if (!statements.some(deniesInsecureTransport)) {
      findings.push(`${id}: no bucket policy denying aws:SecureTransport=false`);
    }
    for (const statement of statements) {
      if (statement.Effect === 'Allow' && isPublicPrincipal(statement.Principal)) {
        findings.push(`${id}: bucket policy allows a public principal`);
      }
    }
  }
  return findings;
}

/** Values a deploy would give the tokens of the configuration (account 123456789012 in eu-west-1). */
const TOKEN_VALUES: Record<string, string> = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'eu-west-1',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  DataBucket: 'irsa-reconciler-uat-data-123456789012',
  ChartBucket: 'irsa-reconciler-uat-charts-123456789012',
  AppConfigApplication: 'app1234',
  AppConfigEnvironment: 'env1234',
  AppConfigProfile: 'prf1234',
  'AWS::StackId':
    'arn:aws:cloudformation:eu-west-1:123456789012:stack/irsa-reconciler-uat/5b8f2a10-a8e2-11f1-9a3c-06d1e2b3c4f5',
  WorkloadBoundary:
    'arn:aws:iam::123456789012:policy/irsa-reconciler/uat/irsa-reconciler-uat-workload-boundary',
  'ClusterEventsBus.Arn':
    'arn:aws:events:eu-west-1:123456789012:event-bus/irsa-reconciler-uat-cluster-events',
  'ClusterEventsForwarderRole.Arn':
    'arn:aws:iam::123456789012:role/irsa-reconciler-service/uat/irsa-reconciler-uat-event-forwarder',
};

/** Values a deploy would give the Fn::GetAtt attributes the functions' environments name. */
export const ATTRIBUTE_VALUES: Record<string, string> = {
  'ReconcilerConfigApplication.ApplicationId': 'cfg1234',
  'ReconcilerConfigProfile.ConfigurationProfileId': 'rcp1234',
  'ReconcilerConfigVersion.VersionNumber': '1',
};

/** Resolves the Fn::If (condition true) / Fn::Sub / Ref / Fn::GetAtt a template value may be. */
export function resolveTokens(value: unknown, overrides: Record<string, string> = {}): string {
  if (typeof value === 'string') return value;
  const record = value as Record<string, unknown>;
  if (Array.isArray(record['Fn::If'])) return resolveTokens(record['Fn::If'][1], overrides);
  const attribute = record['Fn::GetAtt'];
  if (Array.isArray(attribute)) {
    const key = attribute.join('.');
    const resolved = overrides[key] ?? ATTRIBUTE_VALUES[key];
    if (resolved === undefined) throw new Error(`no value for the attribute ${key}`);
    return resolved;
  }
  if (typeof record.Ref === 'string') {
    const resolved = overrides[record.Ref] ?? TOKEN_VALUES[record.Ref];
    if (resolved === undefined) throw new Error(`no value for Ref ${record.Ref}`);
    return resolved;
  }
  const sub = record['Fn::Sub'];
  if (typeof sub !== 'string') throw new Error(`unexpected configuration value ${JSON.stringify(value)}`);
  return sub.replace(/\$\{(!?)([^}]*)\}/g, (_match, escaped: string, name: string) => {
    if (escaped) return `\${${name}}`;
    const resolved = overrides[name] ?? TOKEN_VALUES[name];
    if (resolved === undefined) throw new Error(`no value for the token \${${name}}`);
    return resolved;
  });
}

/**
 * The actions one managed policy allows for given condition values: the Fn::If branch the condition
 * selects is taken, the other is not (what IAM would see after a deploy with those parameters).
 */
export function allowedActions(
  template: CfnTemplate,
  policyId: string,
  conditions: Record<string, boolean>,
): Set<string> {
  const document = template.Resources[policyId]?.Properties?.PolicyDocument;
  if (!isRecord(document)) throw new Error(`the template has no policy document in ${policyId}`);
  const select = (statement: unknown): unknown[] => {
    if (!isRecord(statement)) return [];
    const branches = statement['Fn::If'];
    if (!Array.isArray(branches)) return statement.Ref === 'AWS::NoValue' ? [] : [statement];
    const value = conditions[String(branches[0])];
    if (value === undefined) throw new Error(`no value given for the condition ${String(branches[0])}`);
    return select(value ? branches[1] : branches[2]);
  };
  const actions = asArray(document.Statement)
    .flatMap(select)
    .filter((statement) => isRecord(statement) && statement.Effect === 'Allow')
    .flatMap((statement) => asArray((statement as Record<string, unknown>).Action).map(String));
  return new Set(actions);
}

/** `IAM:CreateRole` (the API call counter's key) → `iam:CreateRole` (the IAM action). */
export function iamActionOfCall(call: string): string {
  const [service = '', operation = ''] = call.split(':');
  return `${service.toLowerCase()}:${operation}`;
}
