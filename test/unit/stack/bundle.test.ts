import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { extractFunctionZip, invokeBundledHandler } from '../../support/bundle-runner';
import { type CfnTemplate, readPackagedTemplate, resolveTokens } from '../../support/stack-template';

/**
 * The zips `npm run package` built, required from plain Node (no TypeScript tooling, no node_modules
 * within reach), answer sample events: a broken bundle (a missing external, an unbundled template, a
 * syntax the runtime lacks) fails here, before a deploy.
 */

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'events');

function fixture(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')) as Record<string, unknown>;
}

/** What Lambda gives every function, plus an endpoint nobody listens on: no call can reach AWS. */
const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDBUNDLETEST',
  AWS_SECRET_ACCESS_KEY: 'bundle-test-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  NODE_OPTIONS: '--enable-source-maps',
};

const FUNCTIONS = { reconcile: 'reconcile', customResource: 'custom-resource', reindex: 'reindex' } as const;
type FunctionKey = keyof typeof FUNCTIONS;

// Each case starts a fresh node on a multi-megabyte bundle.
jest.setTimeout(30_000);

describe('the packaged bundles', () => {
  const dirs = new Map<FunctionKey, string>();
  let template: CfnTemplate;

  beforeAll(async () => {
    template = readPackagedTemplate();
    for (const key of Object.keys(FUNCTIONS) as FunctionKey[]) {
      const { dir } = await extractFunctionZip(key);
      dirs.set(key, dir);
    }
  });

  afterAll(() => {
    for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
  });

  function dirOf(key: FunctionKey): string {
    const dir = dirs.get(key);
    if (!dir) throw new Error(`${key}.zip was not extracted`);
    return dir;
  }

  function handlerFile(key: FunctionKey): string {
    return `functions/${FUNCTIONS[key]}.js`;
  }

  /** The environment the template gives a function, with its CloudFormation tokens resolved. */
  function templateEnv(logicalId: string): Record<string, string> {
    const properties = template.Resources[logicalId]?.Properties as
      | { Environment: { Variables: Record<string, unknown> } }
      | undefined;
    if (!properties) throw new Error(`the template has no ${logicalId}`);
    return Object.fromEntries(
      Object.entries(properties.Environment.Variables).map(([name, value]) => [name, resolveTokens(value)]),
    );
  }

  it.each(Object.keys(FUNCTIONS) as FunctionKey[])(
    '%s.zip holds one self-contained bundle and its map',
    async (key) => {
      // Act
      const { dir, files } = await extractFunctionZip(key);
      rmSync(dir, { recursive: true, force: true });
      // Assess
      expect(files).toEqual(['functions', handlerFile(key), `${handlerFile(key)}.map`]);
    },
  );

  it('carries the policy templates inside the reconciler bundles', () => {
    for (const key of ['reconcile', 'customResource'] as const) {
      const code = readFileSync(join(dirOf(key), handlerFile(key)), 'utf8');
      expect(code).toContain('ServiceAccountOnly');
      expect(code).toContain('ObjectsUnderClusterPrefix');
    }
  });

  describe('reindex', () => {
    it('rejects an event that is neither an S3 notification nor a rebuild request', async () => {
      // Act
      const outcome = await invokeBundledHandler(
        dirOf('reindex'),
        handlerFile('reindex'),
        { hello: 'world' },
        { ...LAMBDA_ENV, ...templateEnv('ReindexLambdaFunction') },
      );
      // Assess
      expect(outcome).toMatchObject({ ok: false, error: { name: 'InvalidEventError' } });
    });

    it('names the missing variable when the bucket is not configured', async () => {
      // Prepare
      const { CHART_BUCKET: _omitted, ...env } = templateEnv('ReindexLambdaFunction');
      // Act
      const outcome = await invokeBundledHandler(
        dirOf('reindex'),
        handlerFile('reindex'),
        fixture('s3/object-created-put.json'),
        {
          ...LAMBDA_ENV,
          ...env,
        },
      );
      // Assess
      expect(outcome).toMatchObject({
        ok: false,
        error: { name: 'ConfigError', message: expect.stringContaining('CHART_BUCKET') },
      });
    });
  });

  describe('reconcile', () => {
    it('names CONFIG_VERSION when it is missing', async () => {
      // Prepare
      const { CONFIG_VERSION: _omitted, ...env } = templateEnv('ReconcileLambdaFunction');
      // Act
      const outcome = await invokeBundledHandler(
        dirOf('reconcile'),
        handlerFile('reconcile'),
        fixture('eventbridge/scheduled.json'),
        {
          ...LAMBDA_ENV,
          ...env,
        },
      );
      // Assess
      expect(outcome).toMatchObject({
        ok: false,
        error: { name: 'ConfigError', message: expect.stringContaining('CONFIG_VERSION is required') },
      });
    });

    it('accepts the packaged environment and then judges the event', async () => {
      // Act: an environment error would surface before the event is looked at.
      const outcome = await invokeBundledHandler(
        dirOf('reconcile'),
        handlerFile('reconcile'),
        { unexpected: true },
        { ...LAMBDA_ENV, ...templateEnv('ReconcileLambdaFunction') },
      );
      // Assess
      expect(outcome).toMatchObject({
        ok: false,
        error: { name: 'InvalidEventError', message: expect.stringContaining('unexpected') },
      });
    });
  });

  describe('custom resource', () => {
    let server: Server;
    let responseUrl: string;
    const responses: { method: string; url: string; body: Record<string, unknown> }[] = [];

    beforeAll(async () => {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          responses.push({
            method: request.method ?? '',
            url: request.url ?? '',
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          });
          response.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    beforeEach(() => {
      responses.length = 0;
    });

    const env = () => ({ ...LAMBDA_ENV, ...templateEnv('CustomResourceLambdaFunction') });

    it('PUTs FAILED for a Create from another stack, before any AWS call', async () => {
      // Prepare
      const event = structuredClone(fixture('cloudformation/create.json'));
      event.ResponseURL = responseUrl;
      event.StackId = String(event.StackId).replace('irsa-reconciler-uat', 'another-stack');
      event.ResourceProperties = { ...(event.ResourceProperties as object), ConfigVersion: '1' };
      // Act
      await invokeBundledHandler(dirOf('customResource'), handlerFile('customResource'), event, env());
      // Assess
      expect(responses).toHaveLength(1);
      expect(responses[0]).toMatchObject({
        method: 'PUT',
        url: '/cfn-response?X-Amz-Signature=abc',
        body: {
          Status: 'FAILED',
          Reason: expect.stringContaining("is not this deployment's stack"),
          RequestId: event.RequestId,
          LogicalResourceId: 'IrsaReconciler',
        },
      });
    });

    it("answers nothing to a ResponseURL that is not CloudFormation's", async () => {
      // Prepare
      const event = structuredClone(fixture('cloudformation/delete.json'));
      event.ResponseURL = 'https://collector.example.com/cfn';
      // Act
      const outcome = await invokeBundledHandler(
        dirOf('customResource'),
        handlerFile('customResource'),
        event,
        env(),
      );
      // Assess
      expect(outcome).toMatchObject({ ok: false, error: { name: 'RefusedRequestError' } });
      expect(responses).toHaveLength(0);
    });

    it('PUTs SUCCESS for the Delete that rolls back a Create which never started', async () => {
      // Prepare
      const event = structuredClone(fixture('cloudformation/delete.json'));
      event.ResponseURL = responseUrl;
      event.PhysicalResourceId = 'irsa-reconciler-not-created-9d2f7c1e';
      event.ResourceProperties = { ...(event.ResourceProperties as object), ConfigVersion: '1' };
      // Act
      await invokeBundledHandler(dirOf('customResource'), handlerFile('customResource'), event, env());
      // Assess
      expect(responses).toHaveLength(1);
      expect(responses[0]?.body).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: 'irsa-reconciler-not-created-9d2f7c1e',
      });
    });
  });
});
