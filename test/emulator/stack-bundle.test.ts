import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { TAG_BINDING, TAG_CLUSTER } from '../../lib/reconciler/types';
import { extractFunctionZip, invokeBundledHandler } from '../support/bundle-runner';
import { chartArchive } from '../support/chart-archives';
import { createCluster, emulatorClients, readAllRoles } from '../support/emulator-fixtures';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from '../support/moto-server';
import { type RecordingProxy, startRecordingProxy } from '../support/recording-proxy';
import {
  allowedActions,
  type CfnTemplate,
  iamActionOfCall,
  identityPolicyStatements,
  readPackagedTemplate,
  resolveTokens,
} from '../support/stack-template';

/**
 * The packaged artefacts end to end: the zips `npm run package` built, run in plain Node with the
 * environment and custom resource properties of the packaged template, against the emulator. Every AWS
 * call they make (recorded by a proxy in front of the emulator) must be an action the packaged policy
 * of their role grants.
 */

jest.setTimeout(60_000);

const FIXTURES = join(__dirname, '..', 'fixtures', 'events');
const ROLE_PATH = '/irsa-reconciler/uat/';
/** The uat stage file's switches: no OIDC provider creation, no permissions boundary. */
const UAT_CONDITIONS = { OidcProviderCreation: false, HasPermissionsBoundary: false };

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

  beforeAll(async () => {
    template = readPackagedTemplate();
    moto = await startMotoServer();
    proxy = await startRecordingProxy(moto.endpoint);
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
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await proxy.stop();
    await moto.stop();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  });

  function lambdaEnv(logicalId: string): Record<string, string> {
    const properties = template.Resources[logicalId]?.Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    const variables = Object.entries(properties.Environment.Variables).map(([name, value]) => [
      name,
      resolveTokens(value),
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
  async function invokeRecorded(key: string, event: unknown, logicalId: string) {
    proxy.calls.length = 0;
    const outcome = await invokeBundledHandler(
      dirs[key] ?? '',
      `functions/${handlerFiles[key]}.js`,
      event,
      lambdaEnv(logicalId),
    );
    return { outcome, calls: [...proxy.calls] };
  }

  const handlerFiles: Record<string, string> = {
    reconcile: 'reconcile',
    customResource: 'custom-resource',
    reindex: 'reindex',
  };

  it('creates the configured roles on schedule, calling only actions its policy grants, and tears them down on Delete', async () => {
    // Prepare
    const admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'prod-eu-1');
    const granted = allowedActions(template, 'ReconcilePolicy', UAT_CONDITIONS);

    // Act: the schedule
    const scheduled = await invokeRecorded(
      'reconcile',
      fixture('eventbridge/scheduled.json'),
      'ReconcileLambdaFunction',
    );

    // Assess
    expect(scheduled.outcome).toMatchObject({
      ok: true,
      result: { dryRun: false, counts: { created: 2, failed: 0 } },
    });
    const roles = Object.values(await readAllRoles(admin, ROLE_PATH));
    expect(roles.map((role) => `${role.tags[TAG_CLUSTER]}/${role.tags[TAG_BINDING]}`).sort()).toEqual([
      'prod-eu-1/cost-dashboard',
      'prod-eu-1/cost-exporter',
    ]);
    const exporter = roles.find((role) => role.tags[TAG_BINDING] === 'cost-exporter');
    expect(JSON.stringify(exporter?.inlinePolicies)).toContain(
      'arn:aws:s3:::irsa-reconciler-uat-data-123456789012/container-costs/prod-eu-1/*',
    );
    const scheduledActions = scheduled.calls.map(({ action }) => action);
    expect(scheduledActions).toEqual(
      expect.arrayContaining([
        'eks:ListClusters',
        'eks:DescribeCluster',
        'iam:CreateRole',
        'iam:PutRolePolicy',
      ]),
    );
    expect(scheduledActions.filter((action) => !granted.has(action))).toEqual([]);
    // The handler's own call counter saw the same operations.
    const counted = Object.keys(
      (scheduled.outcome as { result: { apiCalls: Record<string, number> } }).result.apiCalls,
    );
    expect(new Set(counted.map(iamActionOfCall))).toEqual(new Set(scheduledActions));

    // Act: the stack delete
    const event = structuredClone(fixture('cloudformation/delete.json'));
    event.ResponseURL = responseUrl;
    event.ResourceProperties = {
      ...(event.ResourceProperties as object),
      Config: resolveTokens(template.Resources.IrsaReconciler?.Properties?.Config),
    };
    const deleted = await invokeRecorded('customResource', event, 'CustomResourceLambdaFunction');

    // Assess
    expect(responses).toEqual([
      expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'irsa-reconciler-uat' }),
    ]);
    expect(await readAllRoles(admin, ROLE_PATH)).toEqual({});
    const teardownActions = deleted.calls.map(({ action }) => action);
    expect(teardownActions).toEqual(expect.arrayContaining(['iam:DeleteRolePolicy', 'iam:DeleteRole']));
    expect(teardownActions.filter((action) => !granted.has(action))).toEqual([]);
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

    // Act
    const { outcome, calls } = await invokeRecorded('reindex', event, 'ReindexLambdaFunction');

    // Assess
    expect(bucket).toBe('irsa-reconciler-uat-charts-123456789012');
    expect(outcome).toMatchObject({ ok: true, result: { indexed: [key] } });
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
