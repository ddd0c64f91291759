import { MANAGED_POLICY_MAX_SIZE } from '../../../lib/reconciler/config/boundary';
import { parseReconcilerConfig } from '../../../lib/reconciler/config/schema';
import { POD_IDENTITY_CLUSTER_NAME } from '../../../lib/reconciler/config/templates';
import { desiredState } from '../../../lib/reconciler/plan/desired';
import type { PolicyStatement } from '../../../lib/reconciler/types';
import {
  ACCOUNT_ID,
  type Decision,
  evaluate,
  identityPoliciesOf,
  type NamedPolicy,
  policyDocumentOf,
  REGION,
  readStageTemplate,
  resolveCfn,
} from '../../support/iam-evaluation';

/**
 * The packaged execution policies of both stages, evaluated by a real IAM policy evaluation engine.
 * Every known path from the reconciler's permissions to more permissions is tried and must be denied;
 * the calls the reconciler really makes (with their request context: resource, tags, boundary) must be
 * allowed. A change of iam.yml that reopens a path fails here. The calls recorded from the packaged
 * bundles in the emulator are evaluated the same way in test/emulator/stack-bundle.test.ts.
 */

const STAGES = ['uat', 'prod'] as const;
const ADMIN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
});
const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';

interface Attempt {
  name: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

describe.each(STAGES)('the packaged %s stack, evaluated by IAM', (stage) => {
  const template = readStageTemplate(stage);
  const context = { stage };
  const content = resolveCfn(
    template,
    template.Resources.ReconcilerConfigVersion?.Properties?.Content,
    context,
  );
  const config = parseReconcilerConfig(JSON.parse(String(content)), { stage, deploymentRegion: REGION });
  const boundaryArn = config.permissionsBoundaryArn;
  const role = (path: string, name: string) => `arn:aws:iam::${ACCOUNT_ID}:role${path}${name}`;
  const functionsPath = String(template.Resources.ReconcileRole?.Properties?.Path);
  const ownRole = role(functionsPath, 'ReconcileRole');
  const indexerRole = role(functionsPath, 'ReindexRole');
  const managed = role(config.rolePath, `${config.roleNamePrefix}prod-eu-1-cost-exporter-0123456789`);
  const owned = {
    'iam:PermissionsBoundary': boundaryArn,
    'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:ResourceTag/irsa-reconciler/stage': stage,
  };
  const podRole = role(config.rolePath, `${config.roleNamePrefix}pi-cost-exporter-0123456789`);
  const cluster = `arn:aws:eks:us-east-1:${ACCOUNT_ID}:cluster/prod-eu-1`;
  const association = `arn:aws:eks:us-east-1:${ACCOUNT_ID}:podidentityassociation/prod-eu-1/a-0123456789abcdefg`;
  const ownedAssociation = {
    'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:ResourceTag/irsa-reconciler/stage': stage,
  };
  const associationTags = {
    'aws:RequestTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:RequestTag/irsa-reconciler/stage': stage,
    'aws:RequestTag/irsa-reconciler/binding': 'cost-exporter',
    'aws:TagKeys': ['irsa-reconciler/managed-by', 'irsa-reconciler/stage', 'irsa-reconciler/binding'],
  };
  const createTags = {
    'aws:RequestTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:RequestTag/irsa-reconciler/stage': stage,
    'aws:RequestTag/irsa-reconciler/cluster': 'prod-eu-1',
    'aws:TagKeys': ['irsa-reconciler/managed-by', 'irsa-reconciler/stage', 'irsa-reconciler/cluster'],
  };

  const leaseTable = `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/irsa-reconciler-${stage}-run-lease`;
  const forwardRule = `arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/irsa-reconciler-${stage}-eks-forward`;
  const bus = `arn:aws:events:${REGION}:${ACCOUNT_ID}:event-bus/irsa-reconciler-${stage}-cluster-events`;
  const forwarderRole = `arn:aws:iam::${ACCOUNT_ID}:role/irsa-reconciler-service/${stage}/irsa-reconciler-${stage}-event-forwarder`;
  const ruleTags = {
    'aws:RequestTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:RequestTag/irsa-reconciler/stage': stage,
    'aws:TagKeys': ['irsa-reconciler/managed-by', 'irsa-reconciler/stage'],
  };
  const ownedRule = {
    'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    'aws:ResourceTag/irsa-reconciler/stage': stage,
  };

  describe.each(['ReconcileRole', 'CustomResourceRole', 'ClusterEventsRole'])(
    'the reconciler role %s',
    (roleId) => {
      const policies: NamedPolicy[] = identityPoliciesOf(template, roleId, context);
      const decide = (attempt: Attempt): Promise<Decision> =>
        evaluate({
          principal: role(functionsPath, roleId),
          action: attempt.action,
          resource: attempt.resource,
          ...(attempt.context ? { context: attempt.context } : {}),
          identityPolicies: policies,
        });

      const escalations: Attempt[] = [
        {
          name: 'an admin inline policy on its own execution role',
          action: 'iam:PutRolePolicy',
          resource: ownRole,
        },
        {
          name: 'an admin inline policy on its own role, forging the ownership tags and boundary',
          action: 'iam:PutRolePolicy',
          resource: ownRole,
          context: owned,
        },
        {
          name: "rewriting the indexer's trust policy",
          action: 'iam:UpdateAssumeRolePolicy',
          resource: indexerRole,
        },
        {
          name: 'tagging its own role as owned',
          action: 'iam:TagRole',
          resource: ownRole,
          context: createTags,
        },
        { name: "deleting its own role's log policy", action: 'iam:DeleteRolePolicy', resource: ownRole },
        {
          name: 'attaching AdministratorAccess to its own role',
          action: 'iam:AttachRolePolicy',
          resource: ownRole,
          context: { 'iam:PolicyARN': ADMINISTRATOR_ACCESS },
        },
        {
          name: 'create-then-assume: a role without any boundary',
          action: 'iam:CreateRole',
          resource: managed,
          context: createTags,
        },
        {
          name: 'create-then-assume: a role bounded by AdministratorAccess',
          action: 'iam:CreateRole',
          resource: managed,
          context: { ...createTags, 'iam:PermissionsBoundary': ADMINISTRATOR_ACCESS },
        },
        {
          name: 'a bounded role without the ownership tags',
          action: 'iam:CreateRole',
          resource: managed,
          context: { 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: 'a bounded, tagged role outside the path',
          action: 'iam:CreateRole',
          resource: role('/', 'irsa-escape'),
          context: { ...createTags, 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: "a bounded, tagged role among the execution roles' path",
          action: 'iam:CreateRole',
          resource: role(functionsPath, 'irsa-escape'),
          context: { ...createTags, 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: 'a bounded role tagged as another stage',
          action: 'iam:CreateRole',
          resource: managed,
          context: {
            ...createTags,
            'aws:RequestTag/irsa-reconciler/stage': 'other',
            'iam:PermissionsBoundary': boundaryArn,
          },
        },
        {
          name: "a rule of another name (the stack's own cluster-calls rule)",
          action: 'events:PutRule',
          resource: `arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/irsa-reconciler-${stage}-eks-calls`,
          context: ruleTags,
        },
        {
          name: 'a forwarding rule tagged as another stage',
          action: 'events:PutRule',
          resource: forwardRule,
          context: { ...ruleTags, 'aws:RequestTag/irsa-reconciler/stage': 'other' },
        },
        {
          name: 'changing a forwarding rule it does not own',
          action: 'events:PutRule',
          resource: forwardRule,
        },
        {
          name: 'deleting a forwarding rule it does not own',
          action: 'events:DeleteRule',
          resource: forwardRule,
        },
        {
          name: 'forwarding to a target other than the stack bus',
          action: 'events:PutTargets',
          resource: forwardRule,
          context: {
            ...ownedRule,
            'events:TargetArn': `arn:aws:sqs:us-east-1:${ACCOUNT_ID}:somewhere-else`,
          },
        },
        {
          name: 'passing the forwarder role to Lambda',
          action: 'iam:PassRole',
          resource: forwarderRole,
          context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
        },
        { name: 'putting events on the stack bus itself', action: 'events:PutEvents', resource: bus },
        {
          name: 'writing another DynamoDB table',
          action: 'dynamodb:PutItem',
          resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/orders`,
          context: { 'dynamodb:LeadingKeys': ['reconciler'] },
        },
        {
          name: 'writing another item of the lease table',
          action: 'dynamodb:PutItem',
          resource: leaseTable,
          context: { 'dynamodb:LeadingKeys': ['something-else'] },
        },
        { name: 'scanning the lease table', action: 'dynamodb:Scan', resource: leaseTable },
        { name: 'assuming a role it made', action: 'sts:AssumeRole', resource: managed },
        { name: 'assuming its own role again', action: 'sts:AssumeRole', resource: ownRole },
        { name: 'passing a role it made to a service', action: 'iam:PassRole', resource: managed },
        { name: 'passing its own execution role', action: 'iam:PassRole', resource: ownRole },
        { name: 'passing a role outside its path', action: 'iam:PassRole', resource: role('/', 'admin') },
        {
          name: 'an association without the ownership tags',
          action: 'eks:CreatePodIdentityAssociation',
          resource: cluster,
        },
        {
          name: 'an association tagged as another stage',
          action: 'eks:CreatePodIdentityAssociation',
          resource: cluster,
          context: { ...associationTags, 'aws:RequestTag/irsa-reconciler/stage': 'other' },
        },
        {
          name: 'pointing an association it does not own at its role',
          action: 'eks:UpdatePodIdentityAssociation',
          resource: association,
        },
        {
          name: "deleting another stage's association",
          action: 'eks:DeletePodIdentityAssociation',
          resource: association,
          context: { ...ownedAssociation, 'aws:ResourceTag/irsa-reconciler/stage': 'other' },
        },
        {
          name: "writing a parameter outside the stage's folder",
          action: 'ssm:PutParameter',
          resource: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/prod/database/password`,
        },
        {
          name: "deleting another stage's published ARN",
          action: 'ssm:DeleteParameter',
          resource: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/irsa-reconciler/other/roles/prod-eu-1/cost-exporter`,
        },
        ...(config.publishRoleArns
          ? []
          : [
              {
                name: 'publishing ARNs when the stage does not ask for it',
                action: 'ssm:PutParameter',
                resource: `arn:aws:ssm:${REGION}:${ACCOUNT_ID}:parameter/irsa-reconciler/${stage}/roles/prod-eu-1/cost-exporter`,
              },
            ]),
        {
          name: 'installing an add-on without the ownership tags',
          action: 'eks:CreateAddon',
          resource: cluster,
        },
        ...(config.podIdentity.installAgent
          ? []
          : [
              {
                name: 'installing an add-on when the stage does not ask for the agent',
                action: 'eks:CreateAddon',
                resource: cluster,
                context: associationTags,
              },
            ]),
        {
          name: 'removing the boundary of an owned role',
          action: 'iam:DeleteRolePermissionsBoundary',
          resource: managed,
          context: owned,
        },
        {
          name: 'swapping the boundary of an owned role for AdministratorAccess',
          action: 'iam:PutRolePermissionsBoundary',
          resource: managed,
          context: { ...owned, 'iam:PermissionsBoundary': ADMINISTRATOR_ACCESS },
        },
        {
          name: 'bounding a foreign role under the path',
          action: 'iam:PutRolePermissionsBoundary',
          resource: managed,
          context: { 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: 'a new version of the boundary policy',
          action: 'iam:CreatePolicyVersion',
          resource: boundaryArn,
        },
        {
          name: 'another default version of the boundary',
          action: 'iam:SetDefaultPolicyVersion',
          resource: boundaryArn,
        },
        { name: 'deleting the boundary policy', action: 'iam:DeletePolicy', resource: boundaryArn },
        {
          name: 'attaching AdministratorAccess to an owned, bounded role',
          action: 'iam:AttachRolePolicy',
          resource: managed,
          context: { ...owned, 'iam:PolicyARN': ADMINISTRATOR_ACCESS },
        },
        {
          name: 'adopting a foreign role under the path by tagging it',
          action: 'iam:TagRole',
          resource: managed,
          context: createTags,
        },
        {
          name: 'handing an owned role to another stage by rewriting its stage tag',
          action: 'iam:TagRole',
          resource: managed,
          context: {
            ...owned,
            'aws:RequestTag/irsa-reconciler/stage': 'other',
            'aws:TagKeys': ['irsa-reconciler/stage'],
          },
        },
        {
          name: 'removing the ownership tags of an owned role',
          action: 'iam:UntagRole',
          resource: managed,
          context: { ...owned, 'aws:TagKeys': ['irsa-reconciler/managed-by'] },
        },
        {
          name: 'an inline policy on a foreign role under the path',
          action: 'iam:PutRolePolicy',
          resource: managed,
          context: { 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: 'an inline policy on an owned role that lacks the boundary',
          action: 'iam:PutRolePolicy',
          resource: managed,
          context: {
            'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
            'aws:ResourceTag/irsa-reconciler/stage': stage,
          },
        },
        {
          name: "the trust policy of another stage's role",
          action: 'iam:UpdateAssumeRolePolicy',
          resource: managed,
          context: { ...owned, 'aws:ResourceTag/irsa-reconciler/stage': 'other' },
        },
        {
          name: "deleting another stage's role",
          action: 'iam:DeleteRole',
          resource: managed,
          context: { ...owned, 'aws:ResourceTag/irsa-reconciler/stage': 'other' },
        },
        {
          name: 'a longer session for an owned role',
          action: 'iam:UpdateRole',
          resource: managed,
          context: owned,
        },
        {
          name: 'an IAM user',
          action: 'iam:CreateUser',
          resource: `arn:aws:iam::${ACCOUNT_ID}:user/backdoor`,
        },
        {
          name: 'an access key',
          action: 'iam:CreateAccessKey',
          resource: `arn:aws:iam::${ACCOUNT_ID}:user/admin`,
        },
        {
          name: 'new code for its own function',
          action: 'lambda:UpdateFunctionCode',
          resource: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:irsa-reconciler-${stage}-reconcile`,
        },
        {
          name: 'deleting the configuration the stack wrote',
          action: 'appconfig:DeleteApplication',
          resource: `arn:aws:appconfig:${REGION}:${ACCOUNT_ID}:application/cfg1234`,
        },
        {
          name: 'reading a secret',
          action: 'secretsmanager:GetSecretValue',
          resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:prod/db-AbCdEf`,
        },
      ];

      it.each(escalations)('denies $name', async (attempt) => {
        expect(await decide(attempt)).not.toBe('Allowed');
      });

      const legitimate: Attempt[] = [
        { name: 'listing clusters', action: 'eks:ListClusters', resource: '*' },
        {
          name: 'describing a cluster',
          action: 'eks:DescribeCluster',
          resource: `arn:aws:eks:us-east-1:${ACCOUNT_ID}:cluster/prod-eu-1`,
        },
        { name: 'listing roles', action: 'iam:ListRoles', resource: '*' },
        { name: 'reading every role in bulk', action: 'iam:GetAccountAuthorizationDetails', resource: '*' },
        { name: 'reading a role under the path', action: 'iam:GetRole', resource: managed },
        { name: 'reading its tags', action: 'iam:ListRoleTags', resource: managed },
        { name: 'listing its attached policies', action: 'iam:ListAttachedRolePolicies', resource: managed },
        {
          name: 'creating a bounded, owned role',
          action: 'iam:CreateRole',
          resource: managed,
          context: { ...createTags, 'iam:PermissionsBoundary': boundaryArn },
        },
        {
          name: 'an inline policy on an owned, bounded role',
          action: 'iam:PutRolePolicy',
          resource: managed,
          context: owned,
        },
        { name: 'its trust policy', action: 'iam:UpdateAssumeRolePolicy', resource: managed, context: owned },
        {
          name: 'removing an inline policy',
          action: 'iam:DeleteRolePolicy',
          resource: managed,
          context: owned,
        },
        {
          name: 'detaching a policy attached by hand',
          action: 'iam:DetachRolePolicy',
          resource: managed,
          context: { ...owned, 'iam:PolicyARN': ADMINISTRATOR_ACCESS },
        },
        { name: 'deleting an owned role', action: 'iam:DeleteRole', resource: managed, context: owned },
        {
          name: 'bounding an owned role that lacks it',
          action: 'iam:PutRolePermissionsBoundary',
          resource: managed,
          context: {
            'iam:PermissionsBoundary': boundaryArn,
            'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
            'aws:ResourceTag/irsa-reconciler/stage': stage,
          },
        },
        {
          name: 're-tagging an owned role with its own tags',
          action: 'iam:TagRole',
          resource: managed,
          context: {
            'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
            'aws:ResourceTag/irsa-reconciler/stage': stage,
            'aws:RequestTag/irsa-reconciler/cluster': 'prod-eu-1',
            'aws:RequestTag/cost-center': 'platform',
            'aws:TagKeys': ['irsa-reconciler/cluster', 'cost-center'],
          },
        },
        {
          name: "listing a cluster's associations",
          action: 'eks:ListPodIdentityAssociations',
          resource: cluster,
        },
        {
          name: 'describing an association',
          action: 'eks:DescribePodIdentityAssociation',
          resource: association,
        },
        {
          name: 'describing the agent add-on',
          action: 'eks:DescribeAddon',
          resource: `arn:aws:eks:us-east-1:${ACCOUNT_ID}:addon/prod-eu-1/eks-pod-identity-agent/0ab1c2d3`,
        },
        {
          name: 'creating an owned association',
          action: 'eks:CreatePodIdentityAssociation',
          resource: cluster,
          context: associationTags,
        },
        {
          name: 'pointing an owned association at its role',
          action: 'eks:UpdatePodIdentityAssociation',
          resource: association,
          context: ownedAssociation,
        },
        {
          name: 'deleting an owned association',
          action: 'eks:DeletePodIdentityAssociation',
          resource: association,
          context: ownedAssociation,
        },
        ...(config.publishRoleArns
          ? [
              'ssm:GetParametersByPath',
              'ssm:PutParameter',
              'ssm:AddTagsToResource',
              'ssm:DeleteParameter',
            ].map((action) => ({
              name: `${action} on a published ARN of its own stage`,
              action,
              resource: `arn:aws:ssm:us-east-1:${ACCOUNT_ID}:parameter/irsa-reconciler/${stage}/roles/prod-eu-1/cost-exporter`,
            }))
          : []),
        ...['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem'].map((action) => ({
          name: `${action} on the run lease`,
          action,
          resource: leaseTable,
          context: { 'dynamodb:LeadingKeys': ['reconciler'] },
        })),
        ...(roleId === 'ClusterEventsRole'
          ? []
          : [
              { name: 'listing the regions', action: 'ec2:DescribeRegions', resource: '*' },
              ...['events:DescribeRule', 'events:ListTargetsByRule', 'events:ListTagsForResource'].map(
                (action) => ({ name: `${action} on the forwarding rule`, action, resource: forwardRule }),
              ),
              ...['events:PutRule', 'events:TagResource'].map((action) => ({
                name: `${action} creating the forwarding rule with its ownership tags`,
                action,
                resource: forwardRule,
                context: ruleTags,
              })),
              ...['events:PutRule', 'events:RemoveTargets', 'events:DeleteRule'].map((action) => ({
                name: `${action} on the owned forwarding rule`,
                action,
                resource: forwardRule,
                context: ownedRule,
              })),
              {
                name: 'pointing the owned forwarding rule at the stack bus',
                action: 'events:PutTargets',
                resource: forwardRule,
                context: { ...ownedRule, 'events:TargetArn': bus },
              },
              {
                name: 'passing the forwarder role to EventBridge',
                action: 'iam:PassRole',
                resource: forwarderRole,
                context: { 'iam:PassedToService': 'events.amazonaws.com' },
              },
            ]),
        {
          name: 'passing its own Pod Identity role to EKS',
          action: 'iam:PassRole',
          resource: podRole,
          context: { 'iam:PassedToService': 'pods.eks.amazonaws.com' },
        },
        // The profile's ARN has the same shape as a hosted version's, which the engine cannot tell apart:
        // the application, also required by the action, is evaluated.
        {
          name: 'reading the configuration the stack wrote',
          action: 'appconfig:GetHostedConfigurationVersion',
          resource: `arn:aws:appconfig:${REGION}:${ACCOUNT_ID}:application/cfg1234`,
        },
      ];

      it.each(legitimate)('allows $name', async (attempt) => {
        expect(await decide(attempt)).toBe('Allowed');
      });

      it('allows the custom resource, and only it, to read its own stack', async () => {
        const decision = await decide({
          name: 'stack status',
          action: 'cloudformation:DescribeStacks',
          resource: String(resolveCfn(template, { Ref: 'AWS::StackId' }, context)),
        });
        expect(decision === 'Allowed').toBe(roleId === 'CustomResourceRole');
      });
    },
  );

  if (stage === 'uat') {
    describe("the agent-secret profile's retrieval role", () => {
      const secret =
        'arn:aws:secretsmanager:eu-west-1:111122223333:secret:uat/cost-exporter/api-token-AbCdEf';
      const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      const retrieval = role(functionsPath, 'AppConfigSecretRetrievalRole');
      // The key's default policy, which lets IAM policies of its account grant its use.
      const keyPolicy = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      };
      const decideAs = (action: string, resource: string, context: Record<string, string> = {}) =>
        evaluate({
          principal: retrieval,
          action,
          // The stage's example ARNs name another account; the engine is told they are this one's.
          resource: resource.replace('111122223333', ACCOUNT_ID),
          context,
          identityPolicies: identityPoliciesOf(template, 'AppConfigSecretRetrievalRole', { stage }).map(
            (policy) => ({
              ...policy,
              policy: JSON.parse(JSON.stringify(policy.policy).replaceAll('111122223333', ACCOUNT_ID)),
            }),
          ),
          ...(action.startsWith('kms:') ? { resourcePolicy: keyPolicy } : {}),
        });

      it('reads that one secret, and decrypts with its key only through Secrets Manager in the region', async () => {
        expect(await decideAs('secretsmanager:GetSecretValue', secret)).toBe('Allowed');
        expect(
          await decideAs('kms:Decrypt', key, { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' }),
        ).toBe('Allowed');
      });

      it.each([
        ['another secret', 'secretsmanager:GetSecretValue', `${secret.slice(0, -6)}Other1x`, {}],
        ['writing the secret', 'secretsmanager:PutSecretValue', secret, {}],
        ['the key directly', 'kms:Decrypt', key, {}],
        [
          'the key through another service',
          'kms:Decrypt',
          key,
          { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
        ],
      ])('cannot reach %s', async (_, action, resource, context) => {
        expect(await decideAs(action, resource, context)).not.toBe('Allowed');
      });

      it('is trusted by AppConfig of this account only', () => {
        const trust = template.Resources.AppConfigSecretRetrievalRole?.Properties?.AssumeRolePolicyDocument;
        expect(resolveCfn(template, trust, { stage })).toEqual({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'appconfig.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT_ID } },
            },
          ],
        });
        expect(template.Resources.AppConfigSecretProfile?.Properties).toMatchObject({
          LocationUri: 'secretsmanager://uat/cost-exporter/api-token',
          RetrievalRoleArn: { 'Fn::GetAtt': ['AppConfigSecretRetrievalRole', 'Arn'] },
        });
      });
    });
  }

  describe('the event forwarder role', () => {
    const forwarder = `arn:aws:iam::${ACCOUNT_ID}:role/irsa-reconciler-service/${stage}/irsa-reconciler-${stage}-event-forwarder`;
    const trust = resolveCfn(
      template,
      template.Resources.ClusterEventsForwarderRole?.Properties?.AssumeRolePolicyDocument,
      context,
    );
    const assumeBy = (principal: string, sourceArn: string, sourceAccount = ACCOUNT_ID) =>
      evaluate({
        principal,
        action: 'sts:AssumeRole',
        resource: forwarder,
        context: { 'aws:SourceAccount': sourceAccount, 'aws:SourceArn': sourceArn },
        identityPolicies: [],
        resourcePolicy: trust,
      });
    const ourRule = `arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/irsa-reconciler-${stage}-eks-forward`;

    it("is assumed by EventBridge for this stage's forwarding rules, in any region", async () => {
      expect(await assumeBy('events.amazonaws.com', ourRule)).toBe('Allowed');
    });

    it.each([
      [
        'another rule of this account',
        'events.amazonaws.com',
        `arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/other`,
        ACCOUNT_ID,
      ],
      [
        'a rule of that name in another account',
        'events.amazonaws.com',
        ourRule.replace(ACCOUNT_ID, '210987654321'),
        '210987654321',
      ],
      ['another service', 'lambda.amazonaws.com', ourRule, ACCOUNT_ID],
    ])('is not assumed for %s', async (_, principal, sourceArn, account) => {
      expect(await assumeBy(principal, sourceArn, account)).not.toBe('Allowed');
    });

    it("puts events on the stack's cluster-events bus and nothing else", async () => {
      const policies = identityPoliciesOf(template, 'ClusterEventsForwarderRole', context);
      const bus = `arn:aws:events:${REGION}:${ACCOUNT_ID}:event-bus/irsa-reconciler-${stage}-cluster-events`;
      const decide = (action: string, resource: string) =>
        evaluate({ principal: forwarder, action, resource, identityPolicies: policies });
      expect(await decide('events:PutEvents', bus)).toBe('Allowed');
      expect(
        await decide('events:PutEvents', `arn:aws:events:${REGION}:${ACCOUNT_ID}:event-bus/default`),
      ).not.toBe('Allowed');
      expect(await decide('events:PutRule', bus.replace('event-bus/', 'rule/'))).not.toBe('Allowed');
    });
  });

  it("keeps the reconciler's managed policy within IAM's 6,144 characters once resolved", () => {
    const size = JSON.stringify(policyDocumentOf(template, 'ReconcilePolicy', context)).replace(
      /\s/g,
      '',
    ).length;
    expect(size).toBeLessThanOrEqual(MANAGED_POLICY_MAX_SIZE);
  });

  it('lets the indexer push to ECR only under its prefix, and only in a stage that publishes charts there', async () => {
    const policies = identityPoliciesOf(template, 'ReindexRole', context);
    const decide = (action: string, repository: string) =>
      evaluate({
        principal: indexerRole,
        action,
        resource: `arn:aws:ecr:${REGION}:${ACCOUNT_ID}:repository/${repository}`,
        identityPolicies: policies,
      });
    const publishes = stage === 'uat';
    for (const action of [
      'ecr:PutImage',
      'ecr:InitiateLayerUpload',
      'ecr:CreateRepository',
      'ecr:BatchDeleteImage',
    ]) {
      expect({ action, decision: await decide(action, 'helm/otel-agent') }).toEqual({
        action,
        decision: publishes ? 'Allowed' : 'ImplicitlyDenied',
      });
      expect(await decide(action, 'platform-images/app')).not.toBe('Allowed');
    }
    expect(await decide('ecr:SetRepositoryPolicy', 'helm/otel-agent')).not.toBe('Allowed');
  });

  it('gives the indexer no IAM, STS or configuration access', async () => {
    const policies = identityPoliciesOf(template, 'ReindexRole', context);
    for (const attempt of [
      { action: 'iam:PutRolePolicy', resource: ownRole },
      { action: 'iam:CreateRole', resource: managed },
      { action: 'sts:AssumeRole', resource: managed },
      {
        action: 'appconfig:GetHostedConfigurationVersion',
        resource: `arn:aws:appconfig:${REGION}:${ACCOUNT_ID}:application/cfg1234`,
      },
    ]) {
      expect(await evaluate({ principal: indexerRole, identityPolicies: policies, ...attempt })).not.toBe(
        'Allowed',
      );
    }
  });

  it('refuses every one of those writes with an explicit Deny too, not only by missing an Allow', async () => {
    const policies = identityPoliciesOf(template, 'ReconcileRole', context);
    for (const attempt of [
      { action: 'iam:PutRolePolicy', resource: ownRole, context: owned },
      { action: 'iam:DeleteRolePermissionsBoundary', resource: managed, context: owned },
      { action: 'iam:AttachRolePolicy', resource: managed, context: owned },
      { action: 'sts:AssumeRole', resource: managed },
      { action: 'iam:PassRole', resource: managed },
      { action: 'iam:CreateRole', resource: managed, context: createTags },
      {
        action: 'iam:UntagRole',
        resource: managed,
        context: { ...owned, 'aws:TagKeys': ['irsa-reconciler/stage'] },
      },
    ]) {
      expect(await evaluate({ principal: ownRole, identityPolicies: policies, ...attempt })).toBe(
        'ExplicitlyDenied',
      );
    }
  });

  if (stage === 'uat') {
    describe('the permissions boundary the stack makes', () => {
      const boundary = policyDocumentOf(template, 'WorkloadBoundary', context);
      const workload = role(config.rolePath, 'irsa-workload');
      const asAdmin = (action: string, resource: string) =>
        evaluate({
          principal: workload,
          action,
          resource,
          identityPolicies: [{ name: 'admin', policy: JSON.parse(ADMIN_POLICY) }],
          boundary,
        });

      it('is the ARN every role write of the reconciler is conditioned on', () => {
        expect(boundaryArn).toBe(
          `arn:aws:iam::${ACCOUNT_ID}:policy/irsa-reconciler/uat/irsa-reconciler-uat-workload-boundary`,
        );
      });

      it.each([
        ['iam:CreateUser', `arn:aws:iam::${ACCOUNT_ID}:user/backdoor`],
        ['iam:PutRolePolicy', ownRole],
        ['sts:AssumeRole', ownRole],
        [
          'secretsmanager:GetSecretValue',
          `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:prod/db-AbCdEf`,
        ],
        ['s3:GetObject', `arn:aws:s3:::another-bucket/key`],
        ['s3:PutBucketPolicy', `arn:aws:s3:::irsa-reconciler-uat-data-${ACCOUNT_ID}`],
        ['ec2:RunInstances', `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/*`],
      ])('caps an administrator role it bounds: %s on %s is denied', async (action, resource) => {
        expect(await asAdmin(action, resource)).not.toBe('Allowed');
      });

      it('allows every statement the reconciler renders for a cluster of any scanned region', async () => {
        // Prepare: the roles the deployed configuration gives two clusters in two regions.
        const clusters = config.regions.map((region, index) => ({
          name: `uat-cluster-${index}`,
          region,
          arn: `arn:aws:eks:${region}:${ACCOUNT_ID}:cluster/uat-cluster-${index}`,
          status: 'ACTIVE',
          oidcIssuer: `https://oidc.eks.${region}.amazonaws.com/id/ABC${index}`,
          tags: { 'irsa-reconciler/opt-in': 'true' },
        }));
        const desired = desiredState(config, {
          account: { accountId: ACCOUNT_ID, partition: 'aws' },
          regions: config.regions.map((region) => ({
            region,
            status: 'complete',
            clusters: clusters.filter((cluster) => cluster.region === region),
          })),
          oidcProviderArns: clusters.map(
            (cluster) =>
              `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${cluster.oidcIssuer.replace('https://', '')}`,
          ),
        });
        expect(desired.roles.length).toBe(clusters.length * config.bindings.length);

        // Act / Assess: each rendered grant, as the role would use it, passes the boundary
        let checked = 0;
        for (const desiredRole of desired.roles) {
          for (const document of Object.values(desiredRole.inlinePolicies)) {
            for (const statement of document.Statement) {
              for (const request of requestsOf(statement)) {
                const decision = await evaluate({
                  principal: role(desiredRole.path, desiredRole.roleName),
                  ...request,
                  identityPolicies: [{ name: 'inline', policy: document }],
                  boundary,
                });
                expect({ ...request, decision }).toEqual({ ...request, decision: 'Allowed' });
                checked++;
              }
            }
          }
        }
        expect(checked).toBeGreaterThan(10);
      });

      it('allows what a pod-identity role grants a pod of a cluster in each region, and nothing of another region', async () => {
        // Prepare: the same bindings in pod-identity mode, one role each for the fleet
        const podConfig = {
          ...config,
          bindings: config.bindings.map((b) => ({ ...b, mode: 'pod-identity' as const })),
        };
        const clusters = config.regions.map((region, index) => ({
          name: `uat-cluster-${index}`,
          region,
          arn: `arn:aws:eks:${region}:${ACCOUNT_ID}:cluster/uat-cluster-${index}`,
          status: 'ACTIVE',
          tags: { 'irsa-reconciler/opt-in': 'true' },
        }));
        const desired = desiredState(podConfig, {
          account: { accountId: ACCOUNT_ID, partition: 'aws' },
          regions: config.regions.map((region) => ({
            region,
            status: 'complete',
            clusters: clusters.filter((cluster) => cluster.region === region),
          })),
          oidcProviderArns: [],
        });
        expect(desired.roles.length).toBe(config.bindings.length);

        // Act / Assess: a pod of each cluster (its session tags), each grant of its own region
        let allowed = 0;
        let deniedElsewhere = 0;
        for (const desiredRole of desired.roles) {
          for (const document of Object.values(desiredRole.inlinePolicies)) {
            for (const statement of document.Statement) {
              const pinned = (statement.Condition as { StringLike?: Record<string, string> } | undefined)
                ?.StringLike?.['aws:PrincipalTag/eks-cluster-arn'];
              for (const cluster of clusters) {
                const sessionTags = {
                  'aws:PrincipalTag/eks-cluster-name': cluster.name,
                  'aws:PrincipalTag/eks-cluster-arn': cluster.arn,
                };
                const statementRegion = pinned?.split(':')[3];
                for (const request of requestsOf(statement, cluster.name)) {
                  // The per-cluster S3 layout (<prefix>/<region>/<cluster>/) of another region is out of
                  // reach; a resource listed by ARN (a secret) is granted in every region's copy, as in IRSA.
                  const named = `${request.resource} ${request.context?.['s3:prefix'] ?? ''}`;
                  const ownRegion = statementRegion === undefined || statementRegion === cluster.region;
                  if (!ownRegion && !named.includes(`/${statementRegion}/`)) continue;
                  const decision = await evaluate({
                    principal: role(desiredRole.path, desiredRole.roleName),
                    action: request.action,
                    resource: request.resource,
                    context: { ...request.context, ...sessionTags },
                    identityPolicies: [{ name: 'inline', policy: document }],
                    boundary,
                  });
                  if (ownRegion) {
                    expect({ ...request, cluster: cluster.name, decision }).toEqual({
                      ...request,
                      cluster: cluster.name,
                      decision: 'Allowed',
                    });
                    allowed++;
                  } else {
                    expect({ ...request, cluster: cluster.name, decision }).toEqual({
                      ...request,
                      cluster: cluster.name,
                      decision: expect.not.stringMatching(/^Allowed$/),
                    });
                    deniedElsewhere++;
                  }
                }
              }
            }
          }
        }
        expect(allowed).toBeGreaterThan(10);
        expect(deniedElsewhere).toBeGreaterThan(0);
      });
    });
  }
});

/** Concrete requests a statement grants: each action on each resource, a wildcard filled in. */
function requestsOf(
  statement: PolicyStatement,
  clusterName = '',
): { action: string; resource: string; context?: Record<string, string> }[] {
  // A pod's request names its own cluster where the policy names the session tag.
  const concrete = (text: string) => text.replaceAll(POD_IDENTITY_CLUSTER_NAME, clusterName);
  const actions = [statement.Action].flat().map(String);
  const resources = [statement.Resource]
    .flat()
    .map((resource) => concrete(String(resource)).replace(/\*$/, 'object-1'));
  const listed = (statement.Condition as { StringLike?: Record<string, string[]> } | undefined)?.StringLike?.[
    's3:prefix'
  ]?.[0];
  const prefix = listed === undefined ? undefined : concrete(listed);
  return actions.flatMap((action) =>
    resources.map((resource) => ({
      action,
      resource,
      ...(prefix ? { context: { 's3:prefix': prefix } } : {}),
    })),
  );
}
