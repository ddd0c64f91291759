import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { createHandler } from '../../functions/reindex';
import { createAwsClients } from '../../lib/aws/clients';
import { IndexFormatError } from '../../lib/errors';
import { type IndexerConfig, parseIndexerConfig } from '../../lib/helm/config';
import { type IncrementalSummary, type RebuildSummary, rebuildIndex } from '../../lib/helm/reindexer';
import { chartUrl, parseIndex } from '../../lib/helm/repo/index-file';
import type { IndexFile } from '../../lib/helm/types';
import { createLogger, silentLogger } from '../../lib/observability/logger';
import { helmEnv } from '../../scripts/demo-helm';
import { main } from '../../scripts/reindex';
import { chartArchive, gzipBomb } from '../support/chart-archives';
import { type LostAnswerFront, startLostAnswerFront } from '../support/lost-answer-front';
import { EMULATOR_CREDENTIALS, HELM_BIN, type MotoServer, startMotoServer } from '../support/moto-server';
import { startSerializingFront } from '../support/serializing-front';
import { type FixtureName, lambdaContext, loadS3Event, s3Event } from '../unit/helm/events';

const run = promisify(execFile);

/** Archives made once by `helm package` for the whole file: `${name}-${version}` → bytes. */
const archives = new Map<string, Buffer>();

async function packageCharts(charts: [string, string][]): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'reindex-charts-'));
  try {
    const dirs: string[] = [];
    for (const [name, version] of charts) {
      const dir = join(work, 'src', `${name}-${version}`, name);
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(
        join(dir, 'Chart.yaml'),
        `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: ${name} for the indexer tests\nappVersion: "1.0"\n`,
      );
      dirs.push(dir);
    }
    await run(HELM_BIN, ['package', ...dirs, '--destination', join(work, 'out')], { env: helmEnv(work) });
    for (const [name, version] of charts) {
      archives.set(`${name}-${version}`, await readFile(join(work, 'out', `${name}-${version}.tgz`)));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function archive(name: string, version: string): Buffer {
  const bytes = archives.get(`${name}-${version}`);
  if (!bytes) throw new Error(`no packaged chart ${name}-${version}`);
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const CONCURRENT = 32;
const PUBLISHERS = 50;
/** S3 takes tens of milliseconds to commit a write; loopback moto takes one. */
const HOLD_MS = 40;
/** The time each invocation of the burst has (the function's timeout is 300 s). */
const INVOCATION_MS = 60_000;

/** A Lambda context whose time left counts down from now, as the runtime's does. */
function countdownContext(requestId: string, timeoutMs: number): ReturnType<typeof lambdaContext> {
  const deadline = Date.now() + timeoutMs;
  return { ...lambdaContext(requestId), getRemainingTimeInMillis: () => deadline - Date.now() };
}

describe('the reindex handler against S3 (moto)', () => {
  let moto: MotoServer;
  let bucketNumber = 0;

  beforeAll(async () => {
    moto = await startMotoServer();
    await packageCharts([
      ['payments-api', '1.3.0'],
      ['payments-api', '1.4.2'],
      ['payments-api', '1.5.0'],
      ['ledger', '0.9.0-rc.1'],
      ['ledger', '1.0.0'],
      ['web-app', '1.0.0+build.7'],
      ...Array.from(
        { length: CONCURRENT },
        (_, i) => [`svc-${String(i).padStart(2, '0')}`, '0.1.0'] as [string, string],
      ),
    ]);
  });

  afterAll(async () => {
    await moto?.stop();
  });

  /** A fresh bucket, clients whose calls are counted, the handler, and helpers to arrange and read. */
  async function repository(overrides: Partial<IndexerConfig> = {}) {
    bucketNumber += 1;
    const bucket = `helm-repo-${bucketNumber}`;
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    const setup = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    await setup.s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const config = parseIndexerConfig({ bucket, maxAttempts: 40, ...overrides });
    const logs: Record<string, unknown>[] = [];
    const metrics: string[] = [];
    const deps = {
      s3: clients.s3,
      config,
      logger: createLogger({ write: (line) => logs.push(JSON.parse(line)) }),
      metrics: {
        count: (name: string, value: number) => {
          metrics.push(`${name}=${value}`);
        },
        publish: () => {},
      },
    };
    const handler = createHandler(deps);
    const invoke = async (event: unknown) => (await handler(event, lambdaContext())) as IncrementalSummary;
    const upload = async (key: string, body: Uint8Array | string) => {
      await setup.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    };
    const remove = async (key: string) => {
      await setup.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    };
    const readRaw = async () => {
      const object = await setup.s3.send(new GetObjectCommand({ Bucket: bucket, Key: config.indexKey }));
      return { text: (await object.Body?.transformToString()) ?? '', etag: object.ETag };
    };
    const index = async (): Promise<IndexFile> => parseIndex((await readRaw()).text);
    const versions = async () =>
      Object.fromEntries(
        Object.entries((await index()).entries).map(([name, entries]) => [
          name,
          (entries ?? []).map((entry) => entry.version),
        ]),
      );
    const fixture = (name: FixtureName): S3Event => {
      const event = loadS3Event(name);
      for (const record of event.Records) record.s3.bucket.name = bucket;
      return event;
    };
    const writes = () => clients.calls.total((_service, operation) => operation === 'PutObject');
    return {
      bucket,
      clients,
      setup,
      config,
      deps,
      handler,
      invoke,
      upload,
      remove,
      readRaw,
      index,
      versions,
      fixture,
      writes,
      logs,
      metrics,
    };
  }

  it('indexes an uploaded chart with its digest and a URL relative to the index', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));

    // Act
    const summary = await repo.invoke(repo.fixture('object-created-put'));

    // Assess
    expect(summary).toMatchObject({ outcome: 'created', indexed: ['charts/payments-api-1.4.2.tgz'] });
    const [entry] = (await repo.index()).entries['payments-api'] ?? [];
    expect(entry).toMatchObject({
      name: 'payments-api',
      version: '1.4.2',
      apiVersion: 'v2',
      appVersion: '1.0',
      digest: sha256(archive('payments-api', '1.4.2')),
      urls: ['payments-api-1.4.2.tgz'],
    });
    expect(repo.writes()).toBe(1);
  });

  it('builds a missing index from the whole prefix, not only from the chart of the event', async () => {
    // Prepare: two charts were uploaded before the index existed; the event names one of them.
    const repo = await repository();
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));

    // Act
    const summary = await repo.invoke(repo.fixture('object-created-put'));

    // Assess
    expect(summary).toMatchObject({ outcome: 'created', bootstrapped: true, writes: 1 });
    expect(await repo.versions()).toEqual({ ledger: ['1.0.0'], 'payments-api': ['1.4.2'] });
  });

  it('drops the entry of a deleted chart, and the name once it has no version left', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(
      s3Event([
        { bucket: repo.bucket, key: 'charts/payments-api-1.4.2.tgz' },
        { bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' },
      ]),
    );
    await repo.remove('charts/payments-api-1.4.2.tgz');

    // Act
    const summary = await repo.invoke(repo.fixture('object-removed-delete'));

    // Assess
    expect(summary).toMatchObject({ outcome: 'updated', removed: ['charts/payments-api-1.4.2.tgz'] });
    expect(await repo.versions()).toEqual({ ledger: ['1.0.0'] });
  });

  it('keeps a chart whose delete event arrives after it was uploaded again, and writes nothing', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    await repo.invoke(repo.fixture('object-created-put'));
    repo.clients.calls.reset();

    // Act: the object is there (deleted, then uploaded again); the late delete event is delivered.
    const summary = await repo.invoke(repo.fixture('object-removed-delete'));

    // Assess
    expect(summary).toMatchObject({
      outcome: 'none',
      indexed: ['charts/payments-api-1.4.2.tgz'],
      removed: [],
    });
    expect(await repo.versions()).toEqual({ 'payments-api': ['1.4.2'] });
    expect(repo.writes()).toBe(0);
  });

  it('removes the entry when a created event arrives for an object that is gone again', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(
      s3Event([
        { bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' },
        { bucket: repo.bucket, key: 'charts/payments-api-1.4.2.tgz' },
      ]),
    );
    await repo.remove('charts/payments-api-1.4.2.tgz');

    // Act
    const summary = await repo.invoke(repo.fixture('object-created-put'));

    // Assess
    expect(summary.removed).toEqual(['charts/payments-api-1.4.2.tgz']);
    expect(await repo.versions()).toEqual({ ledger: ['1.0.0'] });
  });

  it('applies a batch event in one write and ignores the records that are not charts under the prefix', async () => {
    // Prepare: 1.3.0 is indexed, then deleted; 1.5.0 and the ledger pre-release are uploaded.
    const repo = await repository();
    await repo.upload('charts/payments-api-1.3.0.tgz', archive('payments-api', '1.3.0'));
    await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/payments-api-1.3.0.tgz' }]));
    await repo.remove('charts/payments-api-1.3.0.tgz');
    await repo.upload('charts/payments-api-1.5.0.tgz', archive('payments-api', '1.5.0'));
    await repo.upload('charts/ledger-0.9.0-rc.1.tgz', archive('ledger', '0.9.0-rc.1'));
    await repo.upload('charts/README.md', '# charts');
    await repo.upload('archive/payments-api-0.1.0.tgz', archive('payments-api', '1.3.0'));
    const before = await repo.readRaw();
    repo.clients.calls.reset();

    // Act
    const summary = await repo.invoke(repo.fixture('batch'));

    // Assess
    expect(repo.writes()).toBe(1);
    expect(summary).toMatchObject({ outcome: 'updated', removed: ['charts/payments-api-1.3.0.tgz'] });
    expect(summary.indexed.sort()).toEqual(['charts/ledger-0.9.0-rc.1.tgz', 'charts/payments-api-1.5.0.tgz']);
    expect(summary.ignored.map((record) => record.key)).toEqual([
      'charts/README.md',
      'charts/index.yaml',
      'archive/payments-api-0.1.0.tgz',
    ]);
    expect(await repo.versions()).toEqual({ ledger: ['0.9.0-rc.1'], 'payments-api': ['1.5.0'] });
    expect((await repo.readRaw()).etag).not.toBe(before.etag);
  });

  it('decodes form-encoded keys: spaces from +, a plus from %2B', async () => {
    // Prepare
    const repo = await repository();
    const key = 'charts/team a/web app-1.0.0+build.7.tgz';
    await repo.upload(key, archive('web-app', '1.0.0+build.7'));

    // Act
    const summary = await repo.invoke(repo.fixture('object-created-encoded-key'));

    // Assess
    expect(summary.indexed).toEqual([key]);
    const [entry] = (await repo.index()).entries['web-app'] ?? [];
    expect(entry?.version).toBe('1.0.0+build.7');
    expect(entry?.urls).toEqual([chartUrl(key, { indexKey: 'charts/index.yaml' })]);
    expect(entry?.urls?.[0]).toContain('team%20a/web%20app-1.0.0');
    expect(entry?.urls?.[0]).not.toContain('%252B');
  });

  it('makes no write on a duplicate delivery', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    const event = repo.fixture('object-created-put');
    await repo.invoke(event);
    const before = await repo.readRaw();
    repo.clients.calls.reset();

    // Act
    const again = await repo.invoke(structuredClone(event));

    // Assess
    expect(again.outcome).toBe('none');
    expect(repo.writes()).toBe(0);
    expect(repo.clients.calls.writes()).toBe(0);
    expect(await repo.readRaw()).toEqual(before);
  });

  it('leaves invalid charts out, logs and counts them, and indexes the rest of the batch', async () => {
    // Prepare: a valid chart, and three archives Helm could not index.
    const repo = await repository();
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    const invalid = {
      'charts/no-tar-1.0.0.tgz': gzipSync('a gzip stream that holds no tar archive'),
      'charts/bad-version.tgz': chartArchive({
        dir: 'bad',
        chartYaml: 'apiVersion: v2\nname: bad\nversion: one.two\n',
      }),
      'charts/bomb-1.0.0.tgz': await gzipBomb(200 * 1024 * 1024),
    };
    for (const [key, body] of Object.entries(invalid)) await repo.upload(key, body);
    const keys = [...Object.keys(invalid), 'charts/payments-api-1.4.2.tgz'];

    // Act
    const summary = await repo.invoke(s3Event(keys.map((key) => ({ bucket: repo.bucket, key }))));

    // Assess
    expect(summary.invalid.map((chart) => chart.key).sort()).toEqual(Object.keys(invalid).sort());
    expect(summary.invalid.find((chart) => chart.key === 'charts/bad-version.tgz')?.reason).toMatch(
      /version/i,
    );
    expect(await repo.versions()).toEqual({ 'payments-api': ['1.4.2'] });
    expect(repo.metrics).toEqual(['InvalidCharts=3', 'IndexWrites=1', 'IndexOutcome_created=1']);
    for (const chart of summary.invalid) {
      expect(repo.logs).toContainEqual(
        expect.objectContaining({ level: 'ERROR', message: 'chart left out of the index', ...chart }),
      );
    }
  });

  it(`indexes every chart of ${CONCURRENT} concurrent invocations`, async () => {
    // Prepare: an index exists (so every invocation takes the conditional-update path).
    const repo = await repository();
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' }]));
    const keys = Array.from(
      { length: CONCURRENT },
      (_, i) => `charts/svc-${String(i).padStart(2, '0')}-0.1.0.tgz`,
    );
    await Promise.all(
      keys.map((key, i) => repo.upload(key, archive(`svc-${String(i).padStart(2, '0')}`, '0.1.0'))),
    );
    // moto checks If-Match and then writes without a lock; S3 does both atomically. Emulate that by
    // letting one index write reach moto at a time. Reads stay concurrent, so writers still race.
    serializeIndexWrites(repo.clients.s3, repo.config.indexKey);
    repo.clients.calls.reset();

    // Act
    const summaries = await Promise.all(
      keys.map((key) => repo.invoke(s3Event([{ bucket: repo.bucket, key }]))),
    );

    // Assess
    const index = await repo.index();
    expect(Object.keys(index.entries).sort()).toEqual(
      ['ledger', ...keys.map((key) => key.slice(7, 13))].sort(),
    );
    const conflicts = summaries.reduce((sum, summary) => sum + summary.conflicts, 0);
    expect(conflicts).toBeGreaterThan(0);
    expect(summaries.every((summary) => summary.writes === 1)).toBe(true);
    expect(repo.writes()).toBe(CONCURRENT + conflicts);
  });

  it(`settles a burst of ${PUBLISHERS} publishers within their own invocations, each index write held ${HOLD_MS} ms`, async () => {
    // Prepare: an index exists; every chart is uploaded; the index PUTs reach moto one at a time, each
    // held as long as an S3 write takes, so the writers contend as they do on S3
    const repo = await repository();
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' }]));
    const names = Array.from({ length: PUBLISHERS }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    await Promise.all(
      names.map((name) =>
        repo.upload(
          `charts/${name}-1.0.0.tgz`,
          chartArchive({ dir: name, chartYaml: `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n` }),
        ),
      ),
    );
    const front = await startSerializingFront(moto.endpoint, {
      pathSuffix: `/${repo.config.indexKey}`,
      holdMs: HOLD_MS,
    });
    try {
      const viaFront = createAwsClients({
        region: 'eu-west-1',
        endpoint: front.endpoint,
        credentials: EMULATOR_CREDENTIALS,
      });
      // No attempt cap (the default): attempts are bounded by each invocation's time left.
      const { maxAttempts: _cap, ...uncapped } = repo.config;
      const handler = createHandler({
        ...repo.deps,
        s3: viaFront.s3,
        config: uncapped,
        logger: silentLogger,
      });

      // Act
      const outcomes = await Promise.allSettled(
        names.map((name, i) =>
          handler(
            s3Event([{ bucket: repo.bucket, key: `charts/${name}-1.0.0.tgz` }]),
            countdownContext(`burst-${i}`, INVOCATION_MS),
          ),
        ),
      );

      // Assess: no event needed a second invocation, and nothing was lost
      const needingRetry = outcomes.filter((outcome) => outcome.status === 'rejected');
      const conflicts = outcomes.reduce(
        (sum, outcome) =>
          sum + (outcome.status === 'fulfilled' ? (outcome.value as IncrementalSummary).conflicts : 0),
        0,
      );
      console.info(
        `${PUBLISHERS} publishers, index PUT held ${HOLD_MS} ms: ${needingRetry.length} needed a second ` +
          `invocation; ${front.puts.length} index PUTs, ${conflicts} conflicts`,
      );
      expect(needingRetry).toEqual([]);
      expect(front.maxInFlight).toBe(1);
      expect(front.puts.filter((status) => status === 412).length).toBe(conflicts);
      expect(Object.keys((await repo.index()).entries).sort()).toEqual(['ledger', ...names].sort());
    } finally {
      await front.stop();
    }
  }, 120_000);

  it('re-reads and re-applies when another writer changes the index between its read and its write', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' }]));
    const others = ['payments-api-1.3.0', 'payments-api-1.4.2'];
    for (const name of others)
      await repo.upload(`charts/${name}.tgz`, archive('payments-api', name.slice(13)));
    await repo.upload('charts/payments-api-1.5.0.tgz', archive('payments-api', '1.5.0'));
    // Before each of our first two index writes, another indexer (own client) indexes one more chart.
    const competitor = createHandler({ ...repo.deps, s3: repo.setup.s3, logger: silentLogger });
    const pending = [...others];
    interceptIndexWrites(repo.clients.s3, repo.config.indexKey, async () => {
      const next = pending.shift();
      if (next)
        await competitor(s3Event([{ bucket: repo.bucket, key: `charts/${next}.tgz` }]), lambdaContext());
    });
    repo.clients.calls.reset();

    // Act
    const summary = await repo.invoke(
      s3Event([{ bucket: repo.bucket, key: 'charts/payments-api-1.5.0.tgz' }]),
    );

    // Assess
    expect(summary).toMatchObject({ outcome: 'updated', conflicts: 2, writes: 1 });
    expect(repo.writes()).toBe(3);
    expect(await repo.versions()).toEqual({ ledger: ['1.0.0'], 'payments-api': ['1.5.0', '1.4.2', '1.3.0'] });
    expect(repo.clients.calls.total((_s, operation) => operation === 'GetObject')).toBe(1 + 3);
  });

  describe('an index write whose answer is lost', () => {
    let front: LostAnswerFront;

    beforeAll(async () => {
      front = await startLostAnswerFront(moto.endpoint);
    });

    afterAll(async () => {
      await front?.stop();
    });

    it('the front applies the picked request at moto and withholds only its answer', async () => {
      // Prepare
      const repo = await repository();
      const viaFront = createAwsClients({
        region: 'eu-west-1',
        endpoint: front.endpoint,
        credentials: EMULATOR_CREDENTIALS,
        maxAttempts: 1,
      });
      front.loseNextAnswer('PUT', '/probe.txt');

      // Act
      const sent = viaFront.s3.send(
        new PutObjectCommand({ Bucket: repo.bucket, Key: 'probe.txt', Body: 'x' }),
      );

      // Assess
      await expect(sent).rejects.toThrow();
      expect(front.lost).toContain('PUT /' + repo.bucket + '/probe.txt (200)');
      const stored = await repo.setup.s3.send(
        new GetObjectCommand({ Bucket: repo.bucket, Key: 'probe.txt' }),
      );
      expect(await stored.Body?.transformToString()).toBe('x');
    });

    it('is reported as written, confirmed by reading the index back, not as a conflict', async () => {
      // Prepare: an index exists; the next index write lands at moto but its answer is lost, so the
      // SDK sends it again with the same If-Match and meets its own write (412)
      const repo = await repository();
      await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
      await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' }]));
      await repo.upload('charts/payments-api-1.5.0.tgz', archive('payments-api', '1.5.0'));
      const viaFront = createAwsClients({
        region: 'eu-west-1',
        endpoint: front.endpoint,
        credentials: EMULATOR_CREDENTIALS,
      });
      const handler = createHandler({ ...repo.deps, s3: viaFront.s3 });
      front.loseNextAnswer('PUT', `/${repo.config.indexKey}`);
      const lostBefore = front.lost.length;

      // Act
      const summary = (await handler(
        s3Event([{ bucket: repo.bucket, key: 'charts/payments-api-1.5.0.tgz' }]),
        lambdaContext(),
      )) as IncrementalSummary;

      // Assess
      expect(front.lost.length).toBe(lostBefore + 1);
      expect(summary).toMatchObject({
        outcome: 'updated',
        writes: 1,
        writesConfirmedByReadBack: 1,
        conflicts: 0,
      });
      expect(await repo.versions()).toEqual({ ledger: ['1.0.0'], 'payments-api': ['1.5.0'] });
    });
  });

  it('applies again a chart deleted while the index was being written, so no stale entry is left', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/ledger-1.0.0.tgz', archive('ledger', '1.0.0'));
    await repo.invoke(s3Event([{ bucket: repo.bucket, key: 'charts/ledger-1.0.0.tgz' }]));
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    let deleted = false;
    interceptIndexWrites(repo.clients.s3, repo.config.indexKey, async () => {
      if (deleted) return;
      deleted = true;
      await repo.remove('charts/payments-api-1.4.2.tgz');
    });

    // Act: the chart was read, then deleted before the index write landed.
    const summary = await repo.invoke(repo.fixture('object-created-put'));

    // Assess
    expect(summary).toMatchObject({ writes: 2, indexed: [], removed: ['charts/payments-api-1.4.2.tgz'] });
    expect(await repo.versions()).toEqual({ ledger: ['1.0.0'] });
  });

  it('indexes the new content of a key overwritten while the index was being written', async () => {
    // Prepare: one key, first holding 1.4.2, overwritten with 1.5.0 just before our write.
    const repo = await repository();
    const key = 'charts/payments-api-latest.tgz';
    await repo.upload(key, archive('payments-api', '1.4.2'));
    let replaced = false;
    interceptIndexWrites(repo.clients.s3, repo.config.indexKey, async () => {
      if (replaced) return;
      replaced = true;
      await repo.upload(key, archive('payments-api', '1.5.0'));
    });

    // Act
    const summary = await repo.invoke(s3Event([{ bucket: repo.bucket, key }]));

    // Assess
    expect(summary).toMatchObject({ writes: 2, indexed: [key] });
    const entries = (await repo.index()).entries['payments-api'] ?? [];
    expect(entries.map((entry) => [entry.version, entry.digest])).toEqual([
      ['1.5.0', sha256(archive('payments-api', '1.5.0'))],
    ]);
  });

  it('refuses to touch a damaged index and tells the operator to rebuild', async () => {
    // Prepare
    const repo = await repository();
    await repo.upload('charts/index.yaml', 'apiVersion: v1\nentries: [this is not\n');
    await repo.upload('charts/payments-api-1.4.2.tgz', archive('payments-api', '1.4.2'));
    const before = await repo.readRaw();
    repo.clients.calls.reset();

    // Act
    const failure = repo.invoke(repo.fixture('object-created-put'));

    // Assess
    await expect(failure).rejects.toThrow(IndexFormatError);
    await expect(failure).rejects.toThrow(/unreadable.*rebuild/);
    expect(repo.writes()).toBe(0);
    expect(await repo.readRaw()).toEqual(before);
  });

  it('in a versioned bucket follows the current version: a delete marker removes, deleting an old version does not', async () => {
    // Prepare: two versions of one key, indexed.
    const repo = await repository();
    await repo.setup.s3.send(
      new PutBucketVersioningCommand({ Bucket: repo.bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const key = 'charts/payments-api-1.4.2.tgz';
    const first = await repo.setup.s3.send(
      new PutObjectCommand({ Bucket: repo.bucket, Key: key, Body: archive('payments-api', '1.4.2') }),
    );
    await repo.upload(key, archive('payments-api', '1.4.2'));
    await repo.invoke(repo.fixture('object-created-put'));

    // Act 1: the old version is deleted.
    await repo.setup.s3.send(
      new DeleteObjectCommand({ Bucket: repo.bucket, Key: key, VersionId: first.VersionId }),
    );
    const afterOldVersion = await repo.invoke(
      s3Event([{ bucket: repo.bucket, key, kind: 'removed', versionId: first.VersionId }]),
    );
    // Act 2: a delete marker hides the current version.
    const marker = await repo.setup.s3.send(new DeleteObjectCommand({ Bucket: repo.bucket, Key: key }));
    const afterMarker = await repo.invoke(
      s3Event([
        {
          bucket: repo.bucket,
          key,
          kind: 'removed',
          eventName: 'ObjectRemoved:DeleteMarkerCreated',
          versionId: marker.VersionId,
        },
      ]),
    );

    // Assess
    expect(afterOldVersion).toMatchObject({ outcome: 'none', indexed: [key], removed: [] });
    expect(afterMarker).toMatchObject({ outcome: 'updated', removed: [key] });
    expect(await repo.versions()).toEqual({});
  });

  describe('rebuild', () => {
    async function indexedRepository() {
      const repo = await repository();
      const keys = [
        'charts/ledger-0.9.0-rc.1.tgz',
        'charts/ledger-1.0.0.tgz',
        'charts/payments-api-1.4.2.tgz',
      ];
      await repo.upload(keys[0] ?? '', archive('ledger', '0.9.0-rc.1'));
      await repo.upload(keys[1] ?? '', archive('ledger', '1.0.0'));
      await repo.upload(keys[2] ?? '', archive('payments-api', '1.4.2'));
      await repo.invoke(s3Event(keys.map((key) => ({ bucket: repo.bucket, key }))));
      return { repo, original: await repo.index() };
    }

    it('writes nothing when the index is already exact', async () => {
      const { repo } = await indexedRepository();
      repo.clients.calls.reset();

      const summary = await rebuildIndex(repo.deps);

      expect(summary).toMatchObject({
        outcome: 'none',
        charts: 3,
        changes: { added: [], removed: [], changed: [] },
      });
      expect(repo.writes()).toBe(0);
    });

    it('restores a lost entry, drops a stale one and keeps the created times of unchanged charts', async () => {
      // Prepare: an edited index, one entry missing and one pointing at nothing.
      const { repo, original } = await indexedRepository();
      // The payments-api entry was created long before its object's LastModified (e.g. migrated).
      const edited = structuredClone(original);
      const ledger = edited.entries.ledger ?? [];
      edited.entries.ledger = ledger.filter((entry) => entry.version !== '0.9.0-rc.1');
      edited.entries.ghost = [
        { ...(ledger[0] ?? original.entries.ledger?.[0]), name: 'ghost', urls: ['ghost-0.0.1.tgz'] } as never,
      ];
      const payments = edited.entries['payments-api']?.[0];
      if (payments) payments.created = '2019-03-04T05:06:07.123456789Z';
      await repo.upload('charts/index.yaml', JSON.stringify(edited));

      // Act
      const summary = await rebuildIndex(repo.deps);

      // Assess
      expect(summary).toMatchObject({ outcome: 'updated', charts: 3 });
      expect(summary.changes).toEqual({
        added: ['ledger@0.9.0-rc.1'],
        removed: ['ghost@1.0.0'],
        changed: [],
      });
      const rebuilt = await repo.index();
      expect(rebuilt.entries['payments-api']?.[0]?.created).toBe('2019-03-04T05:06:07.123456789Z');
      expect(rebuilt.entries.ledger).toEqual(original.entries.ledger);
      expect(Object.keys(rebuilt.entries)).toEqual(['ledger', 'payments-api']);
    });

    it('after losing the race to an upload, lists again and reads only the new archive', async () => {
      // Prepare: just before the rebuild's write, a new chart is published and indexed by the handler.
      const { repo } = await indexedRepository();
      await repo.upload('charts/index.yaml', 'apiVersion: v1\nentries: {}\n');
      const competitor = createHandler({ ...repo.deps, s3: repo.setup.s3, logger: silentLogger });
      let published = false;
      interceptIndexWrites(repo.clients.s3, repo.config.indexKey, async () => {
        if (published) return;
        published = true;
        await repo.upload('charts/payments-api-1.5.0.tgz', archive('payments-api', '1.5.0'));
        await competitor(
          s3Event([{ bucket: repo.bucket, key: 'charts/payments-api-1.5.0.tgz' }]),
          lambdaContext(),
        );
      });
      repo.clients.calls.reset();

      // Act
      const summary = await rebuildIndex(repo.deps);

      // Assess
      expect(summary).toMatchObject({ outcome: 'updated', conflicts: 1, charts: 4 });
      expect(await repo.versions()).toEqual({
        ledger: ['1.0.0', '0.9.0-rc.1'],
        'payments-api': ['1.5.0', '1.4.2'],
      });
      const reads = repo.clients.calls.total((_service, operation) => operation === 'GetObject');
      expect(reads).toBe(2 /* index, twice */ + 3 /* first listing */ + 1 /* the new archive */);
      expect(repo.clients.calls.total((_service, operation) => operation === 'ListObjectsV2')).toBe(2);
    });

    it('refuses to replace a damaged index unless forced, then keeps a backup and restores every entry', async () => {
      // Prepare
      const { repo, original } = await indexedRepository();
      const damaged = 'apiVersion: v1\nentries: {ledger: [\n';
      await repo.upload('charts/index.yaml', damaged);

      // Act
      const refused = rebuildIndex(repo.deps);
      await expect(refused).rejects.toThrow(IndexFormatError);
      const untouched = (await repo.readRaw()).text;
      const forced: RebuildSummary = await rebuildIndex(repo.deps, { force: true });

      // Assess
      expect(untouched).toBe(damaged);
      expect(forced).toMatchObject({
        outcome: 'updated',
        charts: 3,
        backupKey: expect.stringMatching(/^charts\/index\.yaml\.bak-\d{8}T\d{6}Z$/),
      });
      const backup = await repo.setup.s3.send(
        new GetObjectCommand({ Bucket: repo.bucket, Key: forced.backupKey }),
      );
      expect(await backup.Body?.transformToString()).toBe(damaged);
      // created comes from the objects' LastModified, so even a forced rebuild reproduces it.
      expect((await repo.index()).entries).toEqual(original.entries);
    });

    it('from the CLI: --dry-run prints the index and writes nothing, then the rebuild recreates a deleted index', async () => {
      // Prepare
      const { repo, original } = await indexedRepository();
      await repo.remove('charts/index.yaml');
      const out: string[] = [];
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
      jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
      process.env.AWS_ACCESS_KEY_ID = EMULATOR_CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = EMULATOR_CREDENTIALS.secretAccessKey;
      const args = ['rebuild', '--bucket', repo.bucket, '--endpoint', moto.endpoint, '--region', 'eu-west-1'];
      try {
        // Act
        const dryRun = await main([...args, '--dry-run']);
        const absentAfterDryRun = await repo.readRaw().then(
          () => false,
          () => true,
        );
        const real = await main(args);

        // Assess
        expect([dryRun, real]).toEqual([0, 0]);
        expect(absentAfterDryRun).toBe(true);
        expect(parseIndex(out.join('')).entries).toEqual(original.entries);
        expect((await repo.index()).entries).toEqual(original.entries);
      } finally {
        process.env.AWS_ACCESS_KEY_ID = saved.id;
        process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
        if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
        if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
        jest.restoreAllMocks();
      }
    });

    it('through the handler: {"action":"rebuild","dryRun":true} reports the plan and writes nothing', async () => {
      const { repo } = await indexedRepository();
      await repo.remove('charts/ledger-1.0.0.tgz');
      await new Promise((resolve) => setTimeout(resolve, 5));
      repo.clients.calls.reset();

      const summary = (await repo.handler(
        { action: 'rebuild', dryRun: true },
        lambdaContext(),
      )) as RebuildSummary;

      expect(summary).toMatchObject({
        outcome: 'planned',
        charts: 2,
        changes: { removed: ['ledger@1.0.0'] },
      });
      expect(parseIndex(summary.index ?? '').entries.ledger?.map((entry) => entry.version)).toEqual([
        '0.9.0-rc.1',
      ]);
      expect(repo.writes()).toBe(0);
      await expect(
        repo.setup.s3.send(new HeadObjectCommand({ Bucket: repo.bucket, Key: 'charts/ledger-1.0.0.tgz' })),
      ).rejects.toThrow();
    });
  });
});

/** Lets one PutObject of the index reach the server at a time (S3's conditional write is atomic; moto's is not). */
function serializeIndexWrites(s3: S3Client, indexKey: string): void {
  let tail: Promise<unknown> = Promise.resolve();
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as PutObjectCommandInput;
      if (context.commandName !== 'PutObjectCommand' || input.Key !== indexKey) return next(args);
      const turn = tail.then(() => next(args));
      tail = turn.catch(() => undefined);
      return turn;
    },
    { step: 'initialize', name: 'serializeIndexWrites' },
  );
}

/** Runs `before` ahead of every PutObject of the index made through this client. */
function interceptIndexWrites(s3: S3Client, indexKey: string, before: () => Promise<void>): void {
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as PutObjectCommandInput;
      if (context.commandName === 'PutObjectCommand' && input.Key === indexKey) await before();
      return next(args);
    },
    { step: 'initialize', name: 'interceptIndexWrites' },
  );
}
