import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler, depsFromEnv } from '../../../functions/reindex';
import { ConfigError, InvalidEventError } from '../../../lib/errors';
import { parseIndexerConfig } from '../../../lib/helm/config';
import { createLogger } from '../../../lib/observability/logger';
import { createMetrics } from '../../../lib/observability/metrics';
import { lambdaContext, loadS3Event } from '../helm/events';
import { objectBody, s3Error } from '../helm/s3-mock';

const s3Mock = mockClient(S3Client);

function setup() {
  const lines: Record<string, unknown>[] = [];
  const handler = createHandler({
    s3: new S3Client({ region: 'eu-west-1' }),
    config: parseIndexerConfig({ bucket: 'acme-helm-charts' }),
    logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }),
    sleep: async () => {},
  });
  return { handler, lines };
}

afterEach(() => {
  s3Mock.reset();
});

describe('the reindex handler', () => {
  it('rejects an invocation that is neither an S3 event nor a command, logging why', async () => {
    const { handler, lines } = setup();

    const failure = handler({ action: 'reindex-everything' }, lambdaContext());

    await expect(failure).rejects.toThrow(InvalidEventError);
    await expect(failure).rejects.toThrow('expected an S3 notification event');
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'indexing failed',
        retryable: false,
        requestId: 'test-request',
      }),
    );
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('runs a rebuild on {"action":"rebuild"}: an empty repository still gets an index', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });

    const summary = await setup().handler({ action: 'rebuild' }, lambdaContext());

    expect(summary).toMatchObject({ mode: 'rebuild', outcome: 'created', charts: 0 });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: 'acme-helm-charts',
      Prefix: 'charts/',
    });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Key: 'charts/index.yaml',
      IfNoneMatch: '*',
    });
  });

  it('returns without touching S3 when an event holds no chart record', async () => {
    const event = loadS3Event('object-created-put');
    const record = event.Records[0];
    if (record) record.s3.object.key = 'charts/README.md';

    const summary = await setup().handler(event, lambdaContext());

    expect(summary).toMatchObject({
      mode: 'incremental',
      outcome: 'none',
      ignored: [{ key: 'charts/README.md' }],
    });
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('throws a retryable failure so that Lambda retries the event', async () => {
    const { handler: invoke, lines } = setup();
    s3Mock.on(GetObjectCommand).rejects(s3Error('SlowDown', 503));

    const failure = invoke(loadS3Event('object-created-put'), lambdaContext());

    await expect(failure).rejects.toMatchObject({ retryable: true });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'indexing failed; the event will be retried',
        retryable: true,
      }),
    );
  });

  it('fails with the unreadable-index error and never writes over the damaged index', async () => {
    s3Mock
      .on(GetObjectCommand, { Key: 'charts/index.yaml' })
      .resolves({ Body: objectBody('{"entries": ['), ETag: '"x"' });
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });

    const failure = setup().handler({ action: 'rebuild' }, lambdaContext());

    await expect(failure).rejects.toMatchObject({ name: 'IndexFormatError', retryable: false });
    await expect(failure).rejects.toThrow('"force":true');
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe("the reindex handler and the function's memory", () => {
  it("refuses an index larger than the invocation's memory can update, as a terminal failure", async () => {
    // Prepare: lambdaContext() reports 512 MB; the index announces 100 MB
    s3Mock
      .on(GetObjectCommand, { Key: 'charts/index.yaml' })
      .resolves({ Body: objectBody('apiVersion: v1\n'), ETag: '"x"', ContentLength: 100 * 1024 * 1024 });
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    const { handler, lines } = setup();

    // Act
    const failure = handler({ action: 'rebuild' }, lambdaContext());

    // Assess
    await expect(failure).rejects.toMatchObject({ name: 'IndexTooLargeError', retryable: false });
    await expect(failure).rejects.toThrow(/is 100\.0 MB; with 512 MB of memory/);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'indexing failed' }));
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('depsFromEnv', () => {
  it('builds the dependencies from a valid environment', () => {
    const deps = depsFromEnv({
      CHART_BUCKET: 'acme-helm-charts',
      AWS_REGION: 'eu-west-1',
      LOG_LEVEL: 'debug',
    });
    expect(deps.config).toMatchObject({ bucket: 'acme-helm-charts', prefix: 'charts/' });
  });

  it.each([
    [{ AWS_REGION: 'eu-west-1' }, 'CHART_BUCKET: is required'],
    [{ CHART_BUCKET: 'acme-helm-charts' }, 'AWS_REGION is required'],
    [
      { CHART_BUCKET: 'acme-helm-charts', AWS_REGION: 'eu-west-1', LOG_LEVEL: 'chatty' },
      'LOG_LEVEL must be one of',
    ],
  ])('names what is wrong in %j', (env, message) => {
    expect(() => depsFromEnv(env)).toThrow(ConfigError);
    expect(() => depsFromEnv(env)).toThrow(message);
  });
});

describe("the reindex handler's metrics", () => {
  it('publishes one EMF document per index update: writes, outcome, and the failures by kind', async () => {
    // Prepare
    const documents: Record<string, unknown>[] = [];
    const metrics = createMetrics({
      namespace: 'IrsaReconciler/HelmRepository',
      service: 'helm-reindex',
      dimensions: { Bucket: 'acme-helm-charts' },
      write: (line) => documents.push(JSON.parse(line)),
    });
    const handler = createHandler({
      s3: new S3Client({ region: 'eu-west-1' }),
      config: parseIndexerConfig({ bucket: 'acme-helm-charts' }),
      logger: createLogger({ write: () => {} }),
      metrics,
      sleep: async () => {},
    });
    s3Mock.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });

    // Act
    await handler({ action: 'rebuild' }, lambdaContext());
    await expect(handler({ action: 'unknown' }, lambdaContext())).rejects.toThrow();

    // Assess
    expect(documents).toEqual([
      expect.objectContaining({ Bucket: 'acme-helm-charts', IndexWrites: 1, IndexOutcome_created: 1 }),
      expect.objectContaining({ Bucket: 'acme-helm-charts', IndexFailuresTerminal: 1 }),
    ]);
  });
});
