import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parse as parseYaml } from 'yaml';
import { createHandler } from '../../functions/reindex';
import { createAwsClients } from '../../lib/aws/clients';
import { isNotFound } from '../../lib/errors';
import { parseIndexerConfig } from '../../lib/helm/config';
import type { ChartVersionEntry, IndexFile } from '../../lib/helm/types';
import { silentLogger } from '../../lib/observability/logger';
import { helmEnv as helmEnvIn } from '../../scripts/demo-helm';
import { EMULATOR_CREDENTIALS, HELM_BIN, type MotoServer, startMotoServer } from '../support/moto-server';
import { lambdaContext, s3Event } from '../unit/helm/events';

const run = promisify(execFile);
const BUCKET = 'helm-client-charts';

/**
 * The real Helm client against a repository kept by this project: charts made by `helm package`,
 * uploaded to the emulator bucket, indexed by the Lambda handler, served over HTTP from the bucket.
 */
describe('a Helm repository indexed by the handler, used with the real helm client', () => {
  let moto: MotoServer;
  let s3: S3Client;
  let work: string;
  let http: Server;
  let repoUrl: string;
  let helmEnv: NodeJS.ProcessEnv;
  const packaged = new Map<string, string>();

  const helm = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(HELM_BIN, args, { env: helmEnv, cwd: work });
    return stdout;
  };

  const publish = async (file: string): Promise<void> => {
    const key = `charts/${file}`;
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await readFile(join(work, 'packages', file)) }),
    );
    await handler(s3Event([{ bucket: BUCKET, key }]), lambdaContext());
  };

  let handler: ReturnType<typeof createHandler>;

  beforeAll(async () => {
    if (!existsSync(HELM_BIN)) throw new Error(`helm not found at ${HELM_BIN}: run "npm run setup" first`);
    moto = await startMotoServer();
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    s3 = clients.s3;
    await s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    handler = createHandler({ s3, config: parseIndexerConfig({ bucket: BUCKET }), logger: silentLogger });

    work = await mkdtemp(join(tmpdir(), 'helm-client-'));
    helmEnv = helmEnvIn(work);
    await mkdir(join(work, 'packages'));
    await helm('create', 'alpha');
    await helm('create', 'beta');
    for (const [chart, version] of [
      ['alpha', '1.0.0'],
      ['alpha', '1.1.0'],
      ['beta', '0.3.0-rc.1'],
    ] as const) {
      await helm('package', chart, '--version', version, '--destination', 'packages');
      packaged.set(`${chart}-${version}`, `${chart}-${version}.tgz`);
    }

    // The bucket over HTTP, as CloudFront (with origin access) or an S3 website would serve it.
    http = createServer((request, response) => {
      const key = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname.slice(1));
      s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
        .then((object) => {
          response.writeHead(200, { 'content-type': object.ContentType ?? 'application/octet-stream' });
          (object.Body as Readable).pipe(response);
        })
        .catch((error: unknown) => {
          response.writeHead(isNotFound(error) ? 404 : 500).end();
        });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    repoUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/charts`;
  });

  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    await moto?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function storedIndex(): Promise<IndexFile> {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'charts/index.yaml' }));
    return parseYaml((await object.Body?.transformToString()) ?? '') as IndexFile;
  }

  it('helm repo add, search -l and pull work on the charts it indexed, with matching digests', async () => {
    // Prepare
    for (const file of packaged.values()) await publish(file);

    // Act
    await helm('repo', 'add', 'acme', repoUrl);
    const search = JSON.parse(await helm('search', 'repo', 'acme/', '-l', '--devel', '-o', 'json')) as {
      name: string;
      version: string;
    }[];
    await mkdir(join(work, 'pulled'));
    await helm('pull', 'acme/alpha', '--version', '1.0.0', '--destination', join(work, 'pulled'));

    // Assess
    expect(search.map((chart) => `${chart.name}@${chart.version}`)).toEqual([
      'acme/alpha@1.1.0',
      'acme/alpha@1.0.0',
      'acme/beta@0.3.0-rc.1',
    ]);
    const pulled = await readFile(join(work, 'pulled', 'alpha-1.0.0.tgz'));
    const indexed = (await storedIndex()).entries.alpha?.find((entry) => entry.version === '1.0.0');
    expect(sha256(pulled)).toBe(indexed?.digest);
    expect(sha256(pulled)).toBe(sha256(await readFile(join(work, 'packages', 'alpha-1.0.0.tgz'))));
  });

  it('with indexFormat json, keeps a JSON index that helm repo add, search -l and pull use', async () => {
    // Prepare: a second repository in the bucket, indexed as `helm repo index --json` writes it
    const jsonHandler = createHandler({
      s3,
      config: parseIndexerConfig({ bucket: BUCKET, prefix: 'json-charts/', indexFormat: 'json' }),
      logger: silentLogger,
    });
    for (const file of packaged.values()) {
      const key = `json-charts/${file}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: await readFile(join(work, 'packages', file)),
        }),
      );
      // the first event creates the index, each later one updates the JSON index it reads
      await jsonHandler(s3Event([{ bucket: BUCKET, key }]), lambdaContext());
    }
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'json-charts/index.yaml' }));
    const text = (await object.Body?.transformToString()) ?? '';

    // Act
    await helm('repo', 'add', 'acme-json', repoUrl.replace(/\/charts$/, '/json-charts'));
    const search = JSON.parse(await helm('search', 'repo', 'acme-json/', '-l', '--devel', '-o', 'json')) as {
      name: string;
      version: string;
    }[];
    await mkdir(join(work, 'pulled-json'));
    await helm('pull', 'acme-json/beta', '--devel', '--destination', join(work, 'pulled-json'));

    // Assess
    expect(text.startsWith('{\n  "apiVersion": "v1",')).toBe(true);
    expect(object.ContentType).toBe('application/json; charset=utf-8');
    expect(search.map((chart) => `${chart.name}@${chart.version}`)).toEqual([
      'acme-json/alpha@1.1.0',
      'acme-json/alpha@1.0.0',
      'acme-json/beta@0.3.0-rc.1',
    ]);
    const pulled = await readFile(join(work, 'pulled-json', 'beta-0.3.0-rc.1.tgz'));
    const indexed = (JSON.parse(text) as IndexFile).entries.beta?.[0];
    expect(sha256(pulled)).toBe(indexed?.digest);
  });

  it('writes every entry as helm repo index does for the same archives, apart from created and generated', async () => {
    // Prepare
    const reference = join(work, 'reference');
    await cp(join(work, 'packages'), reference, { recursive: true });

    // Act
    await helm('repo', 'index', reference);

    // Assess
    const theirs = parseYaml(await readFile(join(reference, 'index.yaml'), 'utf-8')) as IndexFile;
    const ours = await storedIndex();
    const comparable = (index: IndexFile) =>
      Object.fromEntries(
        Object.entries(index.entries).map(([name, versions]) => [
          name,
          (versions ?? []).map(({ created, ...entry }: ChartVersionEntry) => ({
            ...entry,
            created: typeof created,
          })),
        ]),
      );
    expect(Object.keys(ours.entries)).toEqual(['alpha', 'beta']);
    expect(comparable(ours)).toEqual(comparable(theirs));
    expect(ours.apiVersion).toBe(theirs.apiVersion);
  });

  it('helm repo update sees a chart published afterwards, and no longer sees a deleted one', async () => {
    // Prepare
    await helm('package', 'alpha', '--version', '1.2.0', '--destination', 'packages');

    // Act
    await publish('alpha-1.2.0.tgz');
    await helm('repo', 'update', 'acme');
    const search = JSON.parse(await helm('search', 'repo', 'acme/alpha', '-l', '-o', 'json')) as {
      version: string;
    }[];

    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'charts/alpha-1.0.0.tgz' }));
    await handler(
      s3Event([{ bucket: BUCKET, key: 'charts/alpha-1.0.0.tgz', kind: 'removed' }]),
      lambdaContext(),
    );
    await helm('repo', 'update', 'acme');
    const afterDelete = JSON.parse(await helm('search', 'repo', 'acme/alpha', '-l', '-o', 'json')) as {
      version: string;
    }[];

    // Assess
    expect(search.map((chart) => chart.version)).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect(afterDelete.map((chart) => chart.version)).toEqual(['1.2.0', '1.1.0']);
  });
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
