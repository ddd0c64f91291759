/**
 * The Helm repository part of `npm run demo`: two charts made by `helm package` are uploaded to a bucket
 * in the emulator, the indexer handler is invoked with the S3 notification they would trigger, and the
 * resulting index.yaml is printed. The same event delivered again makes no write. Throws if anything
 * is not as expected (scripts/demo.ts turns that into a non-zero exit).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHandler } from '../functions/reindex';
import { createAwsClients } from '../lib/aws/clients';
import { parseIndexerConfig } from '../lib/helm/config';
import type { IncrementalSummary } from '../lib/helm/reindexer';
import { createLogger } from '../lib/observability/logger';
import { EMULATOR_CREDENTIALS, HELM_BIN } from '../test/support/moto-server';
import { lambdaContext, s3Event } from '../test/unit/helm/events';

const BUCKET = 'demo-helm-charts';
const CHARTS = [
  { name: 'web-frontend', version: '1.4.2' },
  { name: 'billing-worker', version: '0.9.0-rc.1' },
];

export async function runHelmDemo(endpoint: string): Promise<void> {
  if (!existsSync(HELM_BIN)) throw new Error(`helm not found at ${HELM_BIN}: run "npm run setup" first`);
  const clients = createAwsClients({ region: 'eu-west-1', endpoint, credentials: EMULATOR_CREDENTIALS });
  const handler = createHandler({
    s3: clients.s3,
    config: parseIndexerConfig({ bucket: BUCKET }),
    logger: createLogger({ level: 'WARN', service: 'helm-reindex' }),
  });
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const work = await mkdtemp(join(tmpdir(), 'helm-demo-'));
  try {
    say('== Helm repository: publish two charts, index them from their S3 notification ==');
    await clients.s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const keys: string[] = [];
    for (const chart of CHARTS) {
      const helm = (...args: string[]) =>
        promisify(execFile)(HELM_BIN, args, { cwd: work, env: helmEnv(work) });
      await helm('create', chart.name);
      await helm('package', chart.name, '--version', chart.version, '--destination', 'packages');
      const key = `charts/${chart.name}-${chart.version}.tgz`;
      const body = await readFile(join(work, 'packages', `${chart.name}-${chart.version}.tgz`));
      await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      keys.push(key);
      say(`uploaded s3://${BUCKET}/${key} (${body.length} bytes)`);
    }

    const event = s3Event(keys.map((key) => ({ bucket: BUCKET, key })));
    clients.calls.reset();
    const first = (await handler(event, lambdaContext('demo-1'))) as IncrementalSummary;
    const firstWrites = clients.calls.total((_service, operation) => operation === 'PutObject');
    say(`indexer: ${first.outcome}, ${first.indexed.length} charts, ${firstWrites} write(s) of index.yaml`);

    const index = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'charts/index.yaml' }));
    const text = (await index.Body?.transformToString()) ?? '';
    say(`\n--- s3://${BUCKET}/charts/index.yaml ---`);
    say(text.trimEnd());
    say('---');

    clients.calls.reset();
    const again = (await handler(event, lambdaContext('demo-2'))) as IncrementalSummary;
    const againWrites = clients.calls.total((_service, operation) => operation === 'PutObject');
    say(`same event delivered again: ${again.outcome}, ${againWrites} write(s)`);

    const missing = CHARTS.filter((chart) => !text.includes(`version: ${chart.version}`));
    if (first.outcome !== 'created' || firstWrites !== 1 || missing.length > 0 || againWrites !== 0) {
      throw new Error(
        `Helm demo failed: outcome ${first.outcome}, ${firstWrites} writes, missing ${JSON.stringify(missing)}, ` +
          `${againWrites} writes on redelivery`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** helm with its configuration, cache and data in the demo's temporary directory. */
export function helmEnv(work: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: work,
    HELM_CONFIG_HOME: join(work, 'config'),
    HELM_CACHE_HOME: join(work, 'cache'),
    HELM_DATA_HOME: join(work, 'data'),
  };
}
