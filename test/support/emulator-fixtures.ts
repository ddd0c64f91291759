import {
  CreateApplicationCommand,
  CreateConfigurationProfileCommand,
  CreateHostedConfigurationVersionCommand,
} from '@aws-sdk/client-appconfig';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, DeleteClusterCommand, DescribeClusterCommand } from '@aws-sdk/client-eks';
import {
  CreateOpenIDConnectProviderCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { type AwsClients, createAwsClients } from '../../lib/aws/clients';
import type { DeployedConfigLocation } from '../../lib/lambda/deployed-config';
import type { RunLease } from '../../lib/lambda/lease';
import { mapWithConcurrency } from '../../lib/util/concurrency';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from './moto-server';

/**
 * One moto server for a describe block, reset before each test and seeded by `seed` with the block's
 * own clients (the object's fields are set once the hooks have run).
 */
export function useEmulator(seed: (admin: AwsClients, moto: MotoServer) => Promise<void> = async () => {}): {
  moto: MotoServer;
  admin: AwsClients;
} {
  const state = {} as { moto: MotoServer; admin: AwsClients };
  beforeAll(async () => {
    state.moto = await startMotoServer();
  });
  afterAll(async () => {
    await state.moto?.stop();
  });
  beforeEach(async () => {
    await state.moto.reset();
    state.admin = emulatorClients(state.moto.endpoint);
    await seed(state.admin, state.moto);
  });
  return state;
}

/**
 * The reconciler configuration of the emulator tests and the demo, as a user writes it: two agents,
 * an OpenTelemetry collector (S3 prefix + Secrets Manager) and a cost agent (S3 prefix + AppConfig).
 */
/** The permissions boundary every role of the emulator tests carries (createBoundaryPolicy makes it). */
export const EMULATOR_BOUNDARY_ARN = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-reconciler/workload-boundary`;

export const SAMPLE_RECONCILER_CONFIG = {
  regions: ['eu-west-1', 'us-east-1'],
  // The tests' clusters have arbitrary names: every cluster is selected (a real stage selects explicitly).
  clusters: { include: ['*'] },
  permissionsBoundaryArn: EMULATOR_BOUNDARY_ARN,
  bindings: [
    {
      name: 'otel-collector',
      namespace: 'observability',
      serviceAccount: 'otel-collector',
      policies: [
        { template: 's3-prefix-access', params: { BucketName: 'telemetry-archive', Prefix: 'otel' } },
        { template: 'secretsmanager-read', params: { SecretNamePrefixes: ['otel/'] } },
      ],
    },
    {
      name: 'cost-agent',
      namespace: 'finops',
      serviceAccount: 'cost-agent',
      policies: [
        { template: 's3-prefix-access', params: { BucketName: 'cost-reports', Prefix: 'usage' } },
        {
          template: 'appconfig-read',
          params: { ApplicationId: 'abc1234', EnvironmentId: 'env1234', ConfigurationProfileId: 'prof123' },
        },
      ],
    },
  ],
  tags: { team: 'platform' },
};

/**
 * Helpers that arrange and inspect the emulator's state for reconciler tests and the demo. They
 * use their own clients, so the reconciler's call counter only ever sees the reconciler's calls.
 */
export function emulatorClients(
  endpoint: string,
  overrides: { eksEndpoints?: Record<string, string>; maxAttempts?: number } = {},
): AwsClients {
  return createAwsClients({ region: 'eu-west-1', endpoint, credentials: EMULATOR_CREDENTIALS, ...overrides });
}

export interface EmulatorCluster {
  region: string;
  name: string;
  issuerUrl: string;
  /** The IAM OIDC provider ARN of the issuer (created or not). */
  providerArn: string;
}

/** Creates an EKS cluster (ACTIVE at once in moto) and, unless told not to, its IAM OIDC provider. */
export async function createCluster(
  admin: AwsClients,
  region: string,
  name: string,
  options: { tags?: Record<string, string>; withOidcProvider?: boolean } = {},
): Promise<EmulatorCluster> {
  const eks = admin.eks(region);
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:role/eks-cluster`,
      resourcesVpcConfig: { subnetIds: [] },
      ...(options.tags ? { tags: options.tags } : {}),
    }),
  );
  const { cluster } = await eks.send(new DescribeClusterCommand({ name }));
  const issuerUrl = cluster?.identity?.oidc?.issuer;
  if (!issuerUrl) throw new Error(`moto gave cluster ${name} no OIDC issuer`);
  const providerArn = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:oidc-provider/${issuerUrl.replace(/^https:\/\//, '')}`;
  if (options.withOidcProvider ?? true) await ensureOidcProvider(admin, issuerUrl);
  return { region, name, issuerUrl, providerArn };
}

export async function deleteCluster(
  admin: AwsClients,
  cluster: { region: string; name: string },
): Promise<void> {
  await admin.eks(cluster.region).send(new DeleteClusterCommand({ name: cluster.name }));
}

/** moto gives every cluster of a region the same issuer: the provider may exist already. */
export async function ensureOidcProvider(admin: AwsClients, issuerUrl: string): Promise<void> {
  try {
    await admin.iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: issuerUrl, ClientIDList: ['sts.amazonaws.com'] }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'EntityAlreadyExistsException') throw error;
  }
}

/** A role someone else made (an EC2 trust, one inline policy), to check the reconciler leaves it alone. */
export async function createForeignRole(
  admin: AwsClients,
  role: { name: string; path: string; tags?: Record<string, string> },
): Promise<void> {
  await admin.iam.send(
    new CreateRoleCommand({
      RoleName: role.name,
      Path: role.path,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
      Description: 'not managed by irsa-reconciler',
      Tags: Object.entries(role.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  await admin.iam.send(
    new PutRolePolicyCommand({
      RoleName: role.name,
      PolicyName: 'own-policy',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }],
      }),
    }),
  );
}

/** Everything IAM says about a role, decoded, for exact before/after comparisons. */
export interface RoleState {
  roleName: string;
  path: string;
  arn: string;
  description?: string;
  trustPolicy: unknown;
  permissionsBoundaryArn?: string;
  tags: Record<string, string>;
  inlinePolicies: Record<string, unknown>;
  attachedPolicies: string[];
}

export async function readRoleState(admin: AwsClients, roleName: string): Promise<RoleState> {
  const { iam } = admin;
  const { Role: role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  if (!role) throw new Error(`GetRole ${roleName} returned no role`);
  const { Tags = [] } = await iam.send(new ListRoleTagsCommand({ RoleName: roleName }));
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  const inlinePolicies: Record<string, unknown> = {};
  for (const policyName of PolicyNames) {
    const { PolicyDocument = '' } = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
    );
    inlinePolicies[policyName] = JSON.parse(decodeURIComponent(PolicyDocument));
  }
  const { AttachedPolicies = [] } = await iam.send(
    new ListAttachedRolePoliciesCommand({ RoleName: roleName }),
  );
  return {
    roleName,
    path: role.Path ?? '',
    arn: role.Arn ?? '',
    ...(role.Description ? { description: role.Description } : {}),
    trustPolicy: JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument ?? '')),
    ...(role.PermissionsBoundary?.PermissionsBoundaryArn
      ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn }
      : {}),
    tags: Object.fromEntries(Tags.map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
    inlinePolicies,
    attachedPolicies: AttachedPolicies.map((policy) => policy.PolicyArn ?? '').sort(),
  };
}

/** Every role in the account (optionally under a path prefix), by name. */
export async function readAllRoles(admin: AwsClients, pathPrefix = '/'): Promise<Record<string, RoleState>> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await admin.iam.send(new ListRolesCommand({ PathPrefix: pathPrefix, Marker: marker }));
    names.push(...(page.Roles ?? []).map((role) => role.RoleName ?? ''));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  const states = await mapWithConcurrency(names.sort(), 8, (name) => readRoleState(admin, name));
  return Object.fromEntries(states.map((state) => [state.roleName, state]));
}

/** The boundary policy the stack would make (a ceiling of S3, Secrets Manager and AppConfig reads). */
export async function createBoundaryPolicy(admin: AwsClients, arn = EMULATOR_BOUNDARY_ARN): Promise<void> {
  const match = /:policy(\/(?:[^/]+\/)*)([^/]+)$/.exec(arn);
  if (!match?.[1] || !match[2]) throw new Error(`not a policy ARN: ${arn}`);
  try {
    await admin.iam.send(
      new CreatePolicyCommand({
        PolicyName: match[2],
        Path: match[1],
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['s3:*', 'secretsmanager:GetSecretValue', 'appconfig:GetLatestConfiguration'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'EntityAlreadyExistsException') throw error;
  }
}

/**
 * Writes a reconciler configuration to the emulator's AppConfig as the stack does (a hosted
 * configuration version of its own application and profile) and says where it is.
 */
export async function deployReconcilerConfig(
  admin: AwsClients,
  raw: unknown,
  names: { application?: string } = {},
): Promise<DeployedConfigLocation> {
  const { Id: applicationId } = await admin.appconfig.send(
    new CreateApplicationCommand({ Name: names.application ?? 'irsa-reconciler-uat-reconciler' }),
  );
  if (!applicationId) throw new Error('AppConfig gave the application no id');
  const { Id: profileId } = await admin.appconfig.send(
    new CreateConfigurationProfileCommand({
      ApplicationId: applicationId,
      Name: 'reconciler',
      LocationUri: 'hosted',
      Type: 'AWS.Freeform',
    }),
  );
  if (!profileId) throw new Error('AppConfig gave the profile no id');
  const { VersionNumber } = await admin.appconfig.send(
    new CreateHostedConfigurationVersionCommand({
      ApplicationId: applicationId,
      ConfigurationProfileId: profileId,
      ContentType: 'application/json',
      Content: Buffer.from(JSON.stringify(raw)),
    }),
  );
  return { applicationId, profileId, version: String(VersionNumber ?? '') };
}

/** The run lease's table as the stack makes it (templates/resources/run-lease.yml). */
export const RUN_LEASE_TABLE = 'irsa-reconciler-uat-run-lease';

export async function createRunLeaseTable(endpoint: string, table = RUN_LEASE_TABLE): Promise<void> {
  const dynamo = emulatorDynamo(endpoint);
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'name', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'name', KeyType: 'HASH' }],
      }),
    );
  } finally {
    dynamo.destroy();
  }
}

/** A DynamoDB client on the emulator (the run lease's table). */
export function emulatorDynamo(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ region: 'eu-west-1', endpoint, credentials: EMULATOR_CREDENTIALS });
}

/** Another run holding the lease: resolves once it holds it; `release` ends that run. */
export async function holdLeaseElsewhere(
  lease: RunLease,
  holder: string,
): Promise<{ release: () => Promise<void> }> {
  let held: () => void = () => {};
  let finish: () => void = () => {};
  const holding = new Promise<void>((resolve) => (held = resolve));
  const run = lease.hold(holder, { waitMs: 0, holdMs: 60_000 }, () => {
    held();
    return new Promise<void>((resolve) => (finish = resolve));
  });
  await holding;
  return {
    release: async () => {
      finish();
      await run;
    },
  };
}
