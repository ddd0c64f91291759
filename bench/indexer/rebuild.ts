import { S3Client } from '@aws-sdk/client-s3';
import { ApiCallCounter } from '../../lib/aws/api-calls';
import { parseIndexerConfig } from '../../lib/helm/config';
import { rebuildIndex } from '../../lib/helm/reindexer';
import { silentLogger } from '../../lib/observability/logger';
import { EMULATOR_CREDENTIALS } from '../../test/support/moto-server';
import { childEntry } from '../child';

/** One full rebuild (list the prefix, read every chart, write the index) in a process of its own. */
export interface RebuildInput {
  endpoint: string;
  bucket: string;
  prefix: string;
  concurrency: number;
}

export interface RebuildResult {
  wallMs: number;
  charts: number;
  outcome: string;
  invalid: number;
  apiCalls: Record<string, number>;
}

async function run(input: RebuildInput): Promise<RebuildResult> {
  const calls = new ApiCallCounter();
  const s3 = calls.attach(
    'S3',
    new S3Client({
      region: 'us-east-1',
      endpoint: input.endpoint,
      credentials: EMULATOR_CREDENTIALS,
      forcePathStyle: true,
    }),
  );
  const config = parseIndexerConfig({
    bucket: input.bucket,
    prefix: input.prefix,
    concurrency: input.concurrency,
  });
  const started = performance.now();
  const summary = await rebuildIndex({ s3, config, logger: silentLogger }, { force: true });
  const wallMs = Math.round(performance.now() - started);
  return {
    wallMs,
    charts: summary.charts,
    outcome: summary.outcome,
    invalid: summary.invalid.length,
    apiCalls: calls.snapshot(),
  };
}

childEntry(run);
