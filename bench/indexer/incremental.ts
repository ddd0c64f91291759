import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApiCallCounter } from '../../lib/aws/api-calls';
import { type IndexFormat, parseIndexerConfig } from '../../lib/helm/config';
import { handleS3Event } from '../../lib/helm/reindexer';
import { parseIndex, serializeIndex } from '../../lib/helm/repo/index-file';
import { silentLogger } from '../../lib/observability/logger';
import { EMULATOR_CREDENTIALS } from '../../test/support/moto-server';
import { childEntry } from '../child';
import { objectCreatedEvent } from './s3-event';

/**
 * Incremental updates in a process of their own: one S3 "object created" event per new chart, handled
 * one after the other by the same warm clients (the first is the cold one: first connection, first
 * S3 call). The parent measures the process's peak memory.
 */
export interface IncrementalInput {
  endpoint: string;
  bucket: string;
  prefix: string;
  /** Keys of charts already uploaded, one event each, in order. */
  keys: Array<{ key: string; size: number; etag: string }>;
  /** After the events, time each step of the whole-file path on its own (in a process whose memory is not reported). */
  breakdown: boolean;
  /** The indexer's index format (the stored index is in the same form). */
  indexFormat: IndexFormat;
}

/**
 * The steps of the whole-file path (GET, parse all, serialize all, PUT), each timed alone with warm code
 * and connections: what an update of an index not in Helm's layout costs.
 */
export interface UpdateBreakdown {
  getIndexMs: number;
  parseMs: number;
  serializeMs: number;
  putIndexMs: number;
  indexBytes: number;
}

export interface IncrementalResult {
  /** Wall time of each event, in order. */
  wallMs: number[];
  outcomes: string[];
  /** S3 calls per operation over all events. */
  apiCalls: Record<string, number>;
  breakdown?: UpdateBreakdown;
}

async function run(input: IncrementalInput): Promise<IncrementalResult> {
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
    indexFormat: input.indexFormat,
  });
  const wallMs: number[] = [];
  const outcomes: string[] = [];
  for (const object of input.keys) {
    const event = objectCreatedEvent(input.bucket, object, new Date());
    const started = performance.now();
    const summary = await handleS3Event({ s3, config, logger: silentLogger }, event);
    wallMs.push(Math.round(performance.now() - started));
    outcomes.push(summary.outcome);
    if (summary.indexed.length !== 1 || summary.invalid.length > 0) {
      throw new Error(`event for ${object.key} was not indexed: ${JSON.stringify(summary)}`);
    }
  }
  const apiCalls = calls.snapshot();
  if (!input.breakdown) return { wallMs, outcomes, apiCalls };
  return { wallMs, outcomes, apiCalls, breakdown: await timeSteps(s3, input.bucket, config.indexKey) };
}

async function timeSteps(s3: S3Client, bucket: string, indexKey: string): Promise<UpdateBreakdown> {
  let started = performance.now();
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: indexKey }));
  const text = (await response.Body?.transformToString('utf8')) ?? '';
  const getIndexMs = performance.now() - started;
  started = performance.now();
  const index = parseIndex(text);
  const parseMs = performance.now() - started;
  started = performance.now();
  const serialized = serializeIndex(index);
  const serializeMs = performance.now() - started;
  started = performance.now();
  // Outside the chart prefix, so the indexer never sees it.
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'bench-breakdown/index.yaml', Body: serialized }),
  );
  const putIndexMs = performance.now() - started;
  return {
    getIndexMs: Math.round(getIndexMs),
    parseMs: Math.round(parseMs),
    serializeMs: Math.round(serializeMs),
    putIndexMs: Math.round(putIndexMs),
    indexBytes: Buffer.byteLength(text),
  };
}

childEntry(run);
