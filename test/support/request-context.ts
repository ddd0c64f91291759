import { DescribeRuleCommand, ListTagsForResourceCommand } from '@aws-sdk/client-eventbridge';
import { GetRoleCommand, ListRoleTagsCommand } from '@aws-sdk/client-iam';
import type { AwsClients } from '../../lib/aws/clients';
import { ACCOUNT_ID } from './iam-evaluation';
import type { RecordedCall } from './recording-proxy';

/**
 * Turns a request a bundle really sent (recorded by the recording proxy) into the request IAM would
 * authorize: the action, the resource ARN, and the request context the policy conditions read
 * (`iam:PermissionsBoundary`, `aws:ResourceTag/…`, `aws:RequestTag/…`, `aws:TagKeys`, `iam:PolicyARN`).
 * The role's state at the moment of the call comes from the proxy's observe hook (roleSnapshot).
 */

export interface RoleSnapshot {
  path: string;
  tags: Record<string, string>;
  boundary?: string;
}

/** The role a query-protocol IAM call names, as the emulator holds it right before the call. */
export async function roleSnapshot(admin: AwsClients, call: RecordedCall): Promise<RoleSnapshot | undefined> {
  const roleName = call.params.RoleName;
  if (!call.action.startsWith('iam:') || !roleName) return undefined;
  try {
    const { Role: role } = await admin.iam.send(new GetRoleCommand({ RoleName: roleName }));
    const { Tags = [] } = await admin.iam.send(new ListRoleTagsCommand({ RoleName: roleName }));
    return {
      path: role?.Path ?? '/',
      tags: Object.fromEntries(Tags.map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
      ...(role?.PermissionsBoundary?.PermissionsBoundaryArn
        ? { boundary: role.PermissionsBoundary.PermissionsBoundaryArn }
        : {}),
    };
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchEntityException') return undefined;
    throw error;
  }
}

/** The tags an EventBridge rule a write names has right before the call (its ownership, for IAM). */
export async function ruleSnapshot(
  admin: AwsClients,
  call: RecordedCall,
): Promise<{ ruleTags: Record<string, string> } | undefined> {
  if (!call.action.startsWith('events:')) return undefined;
  const name = ruleNameOf(call);
  if (!name) return undefined;
  const events = admin.events(call.region);
  try {
    const { Arn } = await events.send(new DescribeRuleCommand({ Name: name }));
    const { Tags = [] } = await events.send(new ListTagsForResourceCommand({ ResourceARN: Arn }));
    return { ruleTags: Object.fromEntries(Tags.map((tag) => [tag.Key ?? '', tag.Value ?? ''])) };
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** What IAM reads about the resource a call names, as the emulator holds it before the call. */
export async function stateBefore(admin: AwsClients, call: RecordedCall): Promise<unknown> {
  return (await roleSnapshot(admin, call)) ?? (await ruleSnapshot(admin, call));
}

function ruleNameOf(call: RecordedCall): string | undefined {
  const body = (call.json ?? {}) as { Name?: string; Rule?: string; ResourceARN?: string };
  return body.Name ?? body.Rule ?? body.ResourceARN?.split(':rule/')[1];
}

export interface AuthorizedRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

/** `Tags.member.1.Key=a&Tags.member.1.Value=b` → `{ a: 'b' }`. */
function tagsOf(params: Record<string, string>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let index = 1; params[`Tags.member.${index}.Key`] !== undefined; index++) {
    tags[params[`Tags.member.${index}.Key`] ?? ''] = params[`Tags.member.${index}.Value`] ?? '';
  }
  return tags;
}

function prefixed(prefix: string, tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([key, value]) => [`${prefix}${key}`, value]));
}

/**
 * The request IAM authorizes for a recorded call. `defaultRolePath` places a role that does not exist
 * (yet): CreateRole names its own path.
 */
export function authorizedRequestOf(call: RecordedCall, defaultRolePath: string): AuthorizedRequest {
  const [service = ''] = call.action.split(':');
  const url = new URL(call.path, 'http://proxy');
  if (service === 'iam') {
    const { params } = call;
    const snapshot = call.before as RoleSnapshot | undefined;
    if (!params.RoleName) {
      if (call.action === 'iam:CreateOpenIDConnectProvider') {
        const issuer = String(params.Url).replace(/^https:\/\//, '');
        return {
          action: call.action,
          resource: `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${issuer}`,
          context: {},
        };
      }
      return { action: call.action, resource: '*', context: {} };
    }
    const path =
      call.action === 'iam:CreateRole' ? (params.Path ?? '/') : (snapshot?.path ?? defaultRolePath);
    const resource = `arn:aws:iam::${ACCOUNT_ID}:role${path}${params.RoleName}`;
    const context: Record<string, string | string[]> = {};
    if (call.action === 'iam:CreateRole' || call.action === 'iam:TagRole') {
      const requested = tagsOf(params);
      Object.assign(context, prefixed('aws:RequestTag/', requested));
      context['aws:TagKeys'] = Object.keys(requested);
    }
    if (call.action !== 'iam:CreateRole')
      Object.assign(context, prefixed('aws:ResourceTag/', snapshot?.tags ?? {}));
    const boundary =
      call.action === 'iam:CreateRole' || call.action === 'iam:PutRolePermissionsBoundary'
        ? params.PermissionsBoundary
        : snapshot?.boundary;
    if (boundary && call.action !== 'iam:TagRole') context['iam:PermissionsBoundary'] = boundary;
    if (params.PolicyArn) context['iam:PolicyARN'] = params.PolicyArn;
    return { action: call.action, resource, context };
  }
  if (call.action === 'eks:DescribeCluster') {
    const name = url.pathname.split('/')[2] ?? '';
    return {
      action: call.action,
      resource: `arn:aws:eks:${call.region}:${ACCOUNT_ID}:cluster/${name}`,
      context: {},
    };
  }
  if (service === 'appconfig') {
    const application = url.pathname.split('/')[2] ?? '';
    return {
      action: call.action,
      resource: `arn:aws:appconfig:${call.region}:${ACCOUNT_ID}:application/${application}`,
      context: {},
    };
  }
  if (service === 'ssm') {
    // A parameter's ARN holds its name without the leading `/`; a path read is authorized on the path.
    const name = call.params.Name ?? call.params.Path ?? '';
    return {
      action: call.action,
      resource: `arn:aws:ssm:${call.region}:${ACCOUNT_ID}:parameter/${name.replace(/^\//, '')}`,
      context: {},
    };
  }
  if (service === 'events') {
    const body = (call.json ?? {}) as {
      Tags?: { Key: string; Value: string }[];
      Targets?: { Arn: string }[];
    };
    const context: Record<string, string | string[]> = {};
    const requested = Object.fromEntries((body.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    if (body.Tags) {
      Object.assign(context, prefixed('aws:RequestTag/', requested));
      context['aws:TagKeys'] = Object.keys(requested);
    }
    const before = call.before as { ruleTags?: Record<string, string> } | undefined;
    Object.assign(context, prefixed('aws:ResourceTag/', before?.ruleTags ?? {}));
    if (body.Targets) context['events:TargetArn'] = body.Targets.map((target) => target.Arn);
    return {
      action: call.action,
      resource: `arn:aws:events:${call.region}:${ACCOUNT_ID}:rule/${ruleNameOf(call) ?? ''}`,
      context,
    };
  }
  if (service === 'dynamodb') {
    const body = (call.json ?? {}) as {
      TableName?: string;
      Item?: { name?: { S?: string } };
      Key?: { name?: { S?: string } };
    };
    const key = body.Item?.name?.S ?? body.Key?.name?.S;
    return {
      action: call.action,
      resource: `arn:aws:dynamodb:${call.region}:${ACCOUNT_ID}:table/${body.TableName ?? ''}`,
      context: key === undefined ? {} : { 'dynamodb:LeadingKeys': [key] },
    };
  }
  if (call.action === 'cloudformation:DescribeStacks') {
    return { action: call.action, resource: call.params.StackName ?? '*', context: {} };
  }
  return { action: call.action, resource: '*', context: {} };
}
