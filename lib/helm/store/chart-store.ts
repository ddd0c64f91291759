import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { InvalidChartError, isNotFound, toAwsCallError } from '../../errors';
import { type ChartReadLimits, readChartArchive } from '../chart/chart';
import type { IndexerConfig } from '../config';
import type { ChartArchive } from '../types';

/**
 * The chart archives in the bucket: every S3 call the indexer makes on a chart, in one place (the index
 * itself is the index store's). A missing object is `absent`, never an error; an archive that is not a
 * chart is `invalid` with the reason; anything else (access denied, throttling) throws.
 */

export type ChartObservation =
  | { state: 'present'; key: string; etag: string; archive: ChartArchive; lastModified: Date }
  | { state: 'absent'; key: string }
  | { state: 'invalid'; key: string; etag: string; reason: string };

export interface ListedChart {
  key: string;
  etag: string;
}

/** GET the object and read the chart from the stream; 404 means absent. */
export async function readChart(
  s3: S3Client,
  location: { bucket: string; key: string },
  limits: ChartReadLimits,
  now: () => Date,
): Promise<ChartObservation> {
  const { bucket, key } = location;
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return { state: 'absent', key };
    throw toAwsCallError('S3:GetObject', error);
  }
  const body = response.Body as (AsyncIterable<Uint8Array> & Partial<Pick<Readable, 'destroy'>>) | undefined;
  const etag = response.ETag ?? '';
  if (!body) throw toAwsCallError('S3:GetObject', new Error(`no body for s3://${bucket}/${key}`));
  try {
    const size = response.ContentLength;
    if (size !== undefined && size > limits.maxArchiveBytes) {
      throw new InvalidChartError(
        `archive is ${size} bytes, over the limit of ${limits.maxArchiveBytes} bytes`,
      );
    }
    const archive = await readChartArchive(body, limits);
    return { state: 'present', key, etag, archive, lastModified: response.LastModified ?? now() };
  } catch (error) {
    if (!(error instanceof InvalidChartError)) throw error;
    return { state: 'invalid', key, etag, reason: error.message };
  } finally {
    body.destroy?.();
  }
}

/**
 * The archive's bytes as they were indexed (`If-Match` its ETag): undefined when the object is gone or
 * has changed since (the next event about it brings the new state).
 */
export async function readChartBytes(
  s3: S3Client,
  location: { bucket: string; key: string },
  etag: string,
): Promise<Buffer | undefined> {
  try {
    const response = await s3.send(
      new GetObjectCommand({ Bucket: location.bucket, Key: location.key, IfMatch: etag }),
    );
    if (!response.Body) throw new Error(`no body for s3://${location.bucket}/${location.key}`);
    return Buffer.from(await response.Body.transformToByteArray());
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (isNotFound(error) || status === 412) return undefined;
    throw toAwsCallError('S3:GetObject', error);
  }
}

/** HEAD: the current ETag, or undefined when the key is absent. */
export async function headChart(
  s3: S3Client,
  location: { bucket: string; key: string },
): Promise<string | undefined> {
  try {
    const response = await s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
    return response.ETag ?? '';
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError('S3:HeadObject', error);
  }
}

export const UNSAFE_KEY_REASON =
  'the key has an empty, "." or ".." path segment: its URL would resolve to another object than this one';

/**
 * Why a chart key must not be indexed, or undefined: a key with an empty, `.` or `..` segment
 * (`charts/../x.tgz`, `charts//y.tgz`) gets a relative URL that clients resolve to another object, so
 * the digest in the index would not be that of the file they download.
 */
export function unsafeKeyReason(key: string): string | undefined {
  return key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
    ? UNSAFE_KEY_REASON
    : undefined;
}

/** Every `.tgz` under the prefix (the index itself left out), sorted by key; unsafe keys apart, with why. */
export async function listCharts(
  s3: S3Client,
  config: IndexerConfig,
): Promise<{ charts: ListedChart[]; ignored: Array<{ key: string; reason: string }> }> {
  const listed: ListedChart[] = [];
  const ignored: Array<{ key: string; reason: string }> = [];
  try {
    for await (const page of paginateListObjectsV2(
      { client: s3 },
      { Bucket: config.bucket, Prefix: config.prefix },
    )) {
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        if (key === undefined || key === config.indexKey || !key.endsWith('.tgz')) continue;
        const unsafe = unsafeKeyReason(key);
        if (unsafe) ignored.push({ key, reason: unsafe });
        else listed.push({ key, etag: object.ETag ?? '' });
      }
    }
  } catch (error) {
    throw toAwsCallError('S3:ListObjectsV2', error);
  }
  return { charts: listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), ignored };
}
