import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { TAG_BINDING, TAG_CLUSTER } from '../../lib/reconciler/ownership';
import { extractFunctionZip, invokeBundledHandler } from '../support/bundle-runner';
import { chartArchive } from '../support/chart-archives';
import {
  createBoundaryPolicy,
  createCluster,
  createRunLeaseTable,
  deployReconcilerConfig,
  emulatorClients,
  readAllRoles,
} from '../support/emulator-fixtures';
import { evaluate, identityPoliciesOf } from '../support/iam-evaluation';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from '../support/moto-server';
import { startOciRegistry } from '../support/oci-registry';
import { type RecordedCall, type RecordingProxy, startRecordingProxy } from '../support/recording-proxy';
import { authorizedRequestOf, stateBefore } from '../support/request-context';
import { type StackStatusFront, startStackStatusFront } from '../support/stack-status-front';
import {
  type CfnTemplate,
  identityPolicyStatements,
  readPackagedTemplate,
  resolveTokens,
} from '../support/stack-template';

/**
 * The packaged artefacts end to end: the zips `npm run package` built, run in plain Node with the
 * environment and custom resource properties of the packaged template, against the emulator holding
 * what the stack would create (its configuration in AppConfig, its permissions boundary). Every AWS call
 * they make is recorded by a proxy in front of the emulator, with the state of the role it touches at
 * that moment, and must be allowed by a real IAM policy evaluation of the packaged policies of their
 * role (resource ARN, tags, boundary: the conditions IAM would check).
 */

jest.setTimeout(60_000);

const FIXTURES = join(__dirname, '..', 'fixtures', 'events');
const ROLE_PATH = '/irsa-reconciler/uat/';
/** The boundary the uat stack makes (WorkloadBoundary), as CloudFormation resolves its Ref. */
const BOUNDARY_ARN = resolveTokens({ Ref: 'WorkloadBoundary' });

function fixture(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')) as Record<string, unknown>;
}

describe('the packaged stack against the emulator', () => {
  let template: CfnTemplate;
  let moto: MotoServer;
  let proxy: RecordingProxy;
  let server: Server;
  let responseUrl: string;
  const responses: Record<string, unknown>[] = [];
  const dirs: Record<string, string> = {};

  /** The ids AppConfig gave the deployed configuration: what CloudFormation resolves the attributes to. */
  let attributes: Record<string, string>;
  let front: StackStatusFront;

  beforeAll(async () => {
    template = readPackagedTemplate();
    moto = await startMotoServer();
    front = await startStackStatusFront(moto.endpoint);
    const admin = emulatorClients(moto.endpoint);
    proxy = await startRecordingProxy(front.endpoint, { observe: (call) => stateBefore(admin, call) });
    for (const key of ['reconcile', 'customResource', 'reindex'])
      dirs[key] = (await extractFunctionZip(key)).dir;
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        responses.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;

    // What the stack creates before the functions run: the configuration version and the boundary.
    const content = resolveTokens(template.Resources.ReconcilerConfigVersion?.Properties?.Content);
    const location = await deployReconcilerConfig(admin, JSON.parse(content));
    attributes = {
      'ReconcilerConfigApplication.ApplicationId': location.applicationId,
      'ReconcilerConfigProfile.ConfigurationProfileId': location.profileId,
      'ReconcilerConfigVersion.VersionNumber': location.version,
    };
    await createBoundaryPolicy(admin, BOUNDARY_ARN);
    await createRunLeaseTable(moto.endpoint);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await proxy.stop();
    await front.stop();
    await moto.stop();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  });

  function lambdaEnv(logicalId: string): Record<string, string> {
    const properties = template.Resources[logicalId]?.Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    const variables = Object.entries(properties.Environment.Variables).map(([name, value]) => [
      name,
      resolveTokens(value, attributes),
    ]);
    return {
      ...Object.fromEntries(variables),
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL: proxy.endpoint,
    };
  }

  /** Runs a bundle and returns what it answered and the actions of every AWS request it made. */
  async function invokeRecorded(
    key: string,
    event: unknown,
    logicalId: string,
    overrides: Record<string, string> = {},
  ) {
    proxy.calls.length = 0;
    const outcome = await invokeBundledHandler(dirs[key] ?? '', `functions/${handlerFiles[key]}.js`, event, {
      ...lambdaEnv(logicalId),
      ...overrides,
    });
    return { outcome, calls: [...proxy.calls] };
  }

  const handlerFiles: Record<string, string> = {
    reconcile: 'reconcile',
    customResource: 'custom-resource',
    reindex: 'reindex',
  };

  /** Every recorded call of a function, with IAM's decision on it for the function's packaged role. */
  async function decisions(calls: RecordedCall[], roleId: string) {
    const policies = identityPoliciesOf(template, roleId, { stage: 'uat', attributes });
    const principal = `arn:aws:iam::123456789012:role/irsa-reconciler-functions/uat/${roleId}`;
    return Promise.all(
      calls.map(async (call) => {
        const request = authorizedRequestOf(call, ROLE_PATH);
        const decision = await evaluate({ principal, identityPolicies: policies, ...request });
        return { ...request, decision };
      }),
    );
  }

  it("creates the selected clusters' roles on schedule, every call allowed by IAM, and tears them down on Delete", async () => {
    // Prepare: uat selects clusters named uat-* that carry the opt-in tag
    const admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'uat-eu-1', { tags: { 'irsa-reconciler/opt-in': 'true' } });
    await createCluster(admin, 'eu-west-1', 'uat-not-opted-in');
    await createCluster(admin, 'eu-west-1', 'prod-eu-1', { tags: { 'irsa-reconciler/opt-in': 'true' } });

    // Act: the schedule
    const scheduled = await invokeRecorded(
      'reconcile',
      fixture('eventbridge/scheduled.json'),
      'ReconcileLambdaFunction',
    );

    // Assess
    expect(scheduled.outcome).toMatchObject({
      ok: true,
      result: { dryRun: false, counts: { created: 2, failed: 0, skipped: 2 } },
    });
    const roles = Object.values(await readAllRoles(admin, ROLE_PATH));
    expect(roles.map((role) => `${role.tags[TAG_CLUSTER]}/${role.tags[TAG_BINDING]}`).sort()).toEqual([
      'uat-eu-1/cost-dashboard',
      'uat-eu-1/cost-exporter',
    ]);
    const exporter = roles.find((role) => role.tags[TAG_BINDING] === 'cost-exporter');
    expect(JSON.stringify(exporter?.inlinePolicies)).toContain(
      'arn:aws:s3:::irsa-reconciler-uat-data-123456789012/container-costs/eu-west-1/uat-eu-1/*',
    );
    expect(roles.map((role) => role.permissionsBoundaryArn)).toEqual([BOUNDARY_ARN, BOUNDARY_ARN]);
    const scheduledActions = scheduled.calls.map(({ action }) => action);
    expect(scheduledActions).toEqual(
      expect.arrayContaining([
        'appconfig:GetHostedConfigurationVersion',
        'eks:ListClusters',
        'eks:DescribeCluster',
        'iam:CreateRole',
        'iam:PutRolePolicy',
        // uat scans eu-central-1 too: the rule forwarding its cluster calls to the stack's bus
        'ec2:DescribeRegions',
        'events:PutRule',
        'events:PutTargets',
        // the run lease, taken and released
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
      ]),
    );
    const scheduledDecisions = await decisions(scheduled.calls, 'ReconcileRole');
    expect(scheduledDecisions.find(({ action }) => action === 'events:PutTargets')).toMatchObject({
      resource: 'arn:aws:events:eu-central-1:123456789012:rule/irsa-reconciler-uat-eks-forward',
      context: {
        'events:TargetArn': [
          'arn:aws:events:eu-west-1:123456789012:event-bus/irsa-reconciler-uat-cluster-events',
        ],
      },
    });
    expect(scheduledDecisions.filter(({ decision }) => decision !== 'Allowed')).toEqual([]);
    const createRole = scheduledDecisions.find(({ action }) => action === 'iam:CreateRole');
    expect(createRole?.context).toMatchObject({
      'iam:PermissionsBoundary': BOUNDARY_ARN,
      'aws:RequestTag/irsa-reconciler/stage': 'uat',
    });
    const putPolicy = scheduledDecisions.find(({ action }) => action === 'iam:PutRolePolicy');
    expect(putPolicy?.context).toMatchObject({
      'aws:ResourceTag/irsa-reconciler/managed-by': 'irsa-reconciler',
    });

    // Act: the stack delete, while CloudFormation deletes the stack
    front.setStatus(resolveTokens({ Ref: 'AWS::StackId' }), 'DELETE_IN_PROGRESS');
    const event = structuredClone(fixture('cloudformation/delete.json'));
    event.ResponseURL = responseUrl;
    event.StackId = resolveTokens({ Ref: 'AWS::StackId' });
    event.ResourceProperties = {
      ...(event.ResourceProperties as object),
      ConfigVersion: resolveTokens(template.Resources.IrsaReconciler?.Properties?.ConfigVersion, attributes),
    };
    const deleted = await invokeRecorded('customResource', event, 'CustomResourceLambdaFunction');

    // Assess
    expect(responses).toEqual([
      expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'irsa-reconciler-uat' }),
    ]);
    expect(await readAllRoles(admin, ROLE_PATH)).toEqual({});
    const teardownActions = deleted.calls.map(({ action }) => action);
    expect(teardownActions).toEqual(
      expect.arrayContaining([
        'cloudformation:DescribeStacks',
        'iam:DeleteRolePolicy',
        'iam:DeleteRole',
        'events:RemoveTargets',
        'events:DeleteRule',
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
      ]),
    );
    const teardownDecisions = await decisions(deleted.calls, 'CustomResourceRole');
    expect(teardownDecisions.filter(({ decision }) => decision !== 'Allowed')).toEqual([]);
  });

  it("repairs drift of every kind, every repair call allowed by IAM with the role's state at that moment", async () => {
    // Prepare: the roles of a selected cluster, then drift: a trust rewritten, a policy removed, a tag
    // changed, and one role as an older version left it (no boundary)
    const admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'uat-drift', { tags: { 'irsa-reconciler/opt-in': 'true' } });
    await invokeRecorded('reconcile', fixture('eventbridge/scheduled.json'), 'ReconcileLambdaFunction');
    const roles = Object.values(await readAllRoles(admin, ROLE_PATH)).filter(
      (role) => role.tags[TAG_CLUSTER] === 'uat-drift',
    );
    const [exporter, dashboard] = [
      roles.find((role) => role.tags[TAG_BINDING] === 'cost-exporter'),
      roles.find((role) => role.tags[TAG_BINDING] === 'cost-dashboard'),
    ];
    if (!exporter || !dashboard) throw new Error('the drift cluster has no roles');
    await admin.iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: exporter.roleName,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::999999999999:root' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );
    await admin.iam.send(
      new DeleteRolePolicyCommand({ RoleName: exporter.roleName, PolicyName: 's3-prefix-access' }),
    );
    await admin.iam.send(
      new TagRoleCommand({
        RoleName: exporter.roleName,
        Tags: [{ Key: 'cost-center', Value: 'someone-else' }],
      }),
    );
    await admin.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: dashboard.roleName }));

    // Act
    const repair = await invokeRecorded(
      'reconcile',
      fixture('eventbridge/scheduled.json'),
      'ReconcileLambdaFunction',
    );

    // Assess
    expect(repair.outcome).toMatchObject({ ok: true, result: { counts: { updated: 2, failed: 0 } } });
    expect(repair.calls.map(({ action }) => action)).toEqual(
      expect.arrayContaining([
        'iam:UpdateAssumeRolePolicy',
        'iam:PutRolePolicy',
        'iam:TagRole',
        'iam:PutRolePermissionsBoundary',
      ]),
    );
    const repairDecisions = await decisions(repair.calls, 'ReconcileRole');
    expect(repairDecisions.filter(({ decision }) => decision !== 'Allowed')).toEqual([]);
    const after = await readAllRoles(admin, ROLE_PATH);
    expect(after[exporter.roleName]).toEqual(exporter);
    expect(after[dashboard.roleName]).toEqual(dashboard);
  });

  it('refuses to answer a forged Delete sent to the packaged function, and removes nothing', async () => {
    // Prepare
    const admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'uat-forged', { tags: { 'irsa-reconciler/opt-in': 'true' } });
    await invokeRecorded('reconcile', fixture('eventbridge/scheduled.json'), 'ReconcileLambdaFunction');
    const before = await readAllRoles(admin, ROLE_PATH);
    front.setStatus(resolveTokens({ Ref: 'AWS::StackId' }), 'UPDATE_COMPLETE');
    responses.length = 0;
    const event = structuredClone(fixture('cloudformation/delete.json'));
    event.ResponseURL = responseUrl;
    event.StackId = resolveTokens({ Ref: 'AWS::StackId' });
    event.ResourceProperties = { ...(event.ResourceProperties as object), Config: '{}' };

    // Act
    await invokeRecorded('customResource', event, 'CustomResourceLambdaFunction');

    // Assess
    expect(responses).toEqual([expect.objectContaining({ Status: 'FAILED' })]);
    expect(await readAllRoles(admin, ROLE_PATH)).toEqual(before);
    expect(Object.values(before).filter((role) => role.tags[TAG_CLUSTER] === 'uat-forged')).toHaveLength(2);
  });

  it('indexes a chart uploaded to the bucket the template names, under the prefix it configures', async () => {
    // Prepare: the bucket name and prefix as CloudFormation would resolve them in account 123456789012.
    const env = lambdaEnv('ReindexLambdaFunction');
    const bucket = env.CHART_BUCKET ?? '';
    const key = `${env.CHART_PREFIX}demo-1.0.0.tgz`;
    const { s3 } = emulatorClients(moto.endpoint);
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: chartArchive({}) }));
    const event = structuredClone(fixture('s3/object-created-put.json')) as {
      Records: { s3: { bucket: { name: string; arn: string }; object: { key: string } } }[];
    };
    for (const record of event.Records) {
      record.s3.bucket = { ...record.s3.bucket, name: bucket, arn: `arn:aws:s3:::${bucket}` };
      record.s3.object.key = key;
    }

    const granted = new Set(
      identityPolicyStatements(template)
        .filter(({ where }) => where.startsWith('ReindexRole/'))
        .flatMap(({ statement }) => [statement.Action].flat().map(String)),
    );

    // uat pushes charts to the account's ECR; here its registry API is a local registry's (moto has none).
    const registry = await startOciRegistry();

    // Act
    const { outcome, calls } = await invokeRecorded('reindex', event, 'ReindexLambdaFunction', {
      CHART_OCI_REGISTRY: registry.host,
      CHART_OCI_PLAIN_HTTP: 'true',
    }).finally(() => registry.stop());

    // Assess
    expect(bucket).toBe('irsa-reconciler-uat-charts-123456789012');
    expect(env.CHART_OCI_REGISTRY).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com');
    expect(outcome).toMatchObject({
      ok: true,
      result: { indexed: [key], oci: { pushed: [`${registry.host}/helm/demo:1.0.0`] } },
    });
    const index = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${env.CHART_PREFIX}index.yaml` }),
    );
    expect(await index.Body?.transformToString()).toMatch(/demo:[\s\S]*- demo-1\.0\.0\.tgz/);
    expect(calls.map(({ action }) => action)).toEqual(
      expect.arrayContaining(['s3:GetObject', 's3:PutObject']),
    );
    for (const call of calls) {
      // CopyObject (an index backup) needs GetObject on the source and PutObject on the copy.
      const needed = call.action === 's3:CopyObject' ? ['s3:GetObject', 's3:PutObject'] : [call.action];
      expect({ call, missing: needed.filter((action) => !granted.has(action)) }).toEqual({
        call,
        missing: [],
      });
      if (call.action !== 's3:ListBucket')
        expect(call.path.startsWith(`/${bucket}/${env.CHART_PREFIX}`)).toBe(true);
    }
  });
});
