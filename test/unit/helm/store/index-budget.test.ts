import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsCallError, IndexTooLargeError } from '../../../../lib/errors';
import { parseIndex } from '../../../../lib/helm/repo/index-file';
import {
  MEMORY_PER_INDEX_BYTE,
  maxIndexBytes,
  RUNTIME_RESERVE_MB,
} from '../../../../lib/helm/store/index-budget';
import { updateIndex, WRITTEN_DIGEST_METADATA } from '../../../../lib/helm/store/index-store';
import type { IndexFile } from '../../../../lib/helm/types';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'eu-west-1' });
const LOCATION = { bucket: 'acme-helm-charts', key: 'charts/index.yaml' };
const MB = 1024 * 1024;
const STORED = `apiVersion: v1
entries:
  alpha:
  - apiVersion: v2
    created: "2026-11-01T10:00:00Z"
    name: alpha
    urls:
    - alpha-1.0.0.tgz
    version: 1.0.0
generated: "2026-11-01T10:00:00Z"
`;

/** A body that records whether anything read it. */
function watchedBody(text: string): { body: GetObjectCommandOutput['Body']; wasRead: () => boolean } {
  let read = false;
  const body = Object.assign(Readable.from([]), {
    [Symbol.asyncIterator]: async function* () {
      read = true;
      yield Buffer.from(text);
    },
  }) as unknown as GetObjectCommandOutput['Body'];
  return { body, wasRead: () => read };
}

async function addBeta(current: { state: string; index?: IndexFile }): Promise<IndexFile> {
  const base = current.index ?? parseIndex(STORED);
  const alpha = base.entries.alpha ?? [];
  return { ...base, entries: { ...base.entries, beta: alpha.map((e) => ({ ...e, name: 'beta' })) } };
}

const focus = () => ({ names: ['beta'], urls: [] });

afterEach(() => s3Mock.reset());

describe('maxIndexBytes', () => {
  it('is what the memory left after the runtime reserve holds at the measured cost per byte', () => {
    expect(maxIndexBytes(1024, 'focused')).toBe(
      Math.floor(((1024 - RUNTIME_RESERVE_MB) * MB) / MEMORY_PER_INDEX_BYTE.focused),
    );
    expect(maxIndexBytes(1024, 'whole')).toBeLessThan(maxIndexBytes(1024, 'focused'));
    expect(maxIndexBytes(2048, 'focused')).toBeGreaterThan(maxIndexBytes(1024, 'focused'));
    expect(maxIndexBytes(128, 'focused')).toBe(0);
  });
});

describe('updateIndex with the function memory', () => {
  it('refuses an index larger than the focused path can hold before reading it, and writes nothing', async () => {
    // Prepare: an index this indexer wrote (stamped), announced one byte over the ceiling
    const { body, wasRead } = watchedBody(STORED);
    s3Mock.on(GetObjectCommand).resolves({
      Body: body,
      ETag: '"e1"',
      ContentLength: maxIndexBytes(1024, 'focused') + 1,
      Metadata: { [WRITTEN_DIGEST_METADATA]: 'a'.repeat(64) },
    });

    // Act
    const update = updateIndex(s3, LOCATION, addBeta, { memoryMb: 1024, focus, maxAttempts: 1 });

    // Assess
    const error = await update.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IndexTooLargeError);
    expect((error as IndexTooLargeError).retryable).toBe(false);
    expect((error as Error).message).toMatch(
      /s3:\/\/acme-helm-charts\/charts\/index\.yaml is \d+\.\d MB; with 1024 MB .* left unchanged\. Raise the indexer's memory to at least \d+ MB \(stage value chartIndexerMemoryMb/,
    );
    expect(wasRead()).toBe(false);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('holds an index it did not write to the lower ceiling of the whole-file path', async () => {
    // Prepare: the same size, under the focused ceiling but over the whole-file one
    const size = maxIndexBytes(1024, 'whole') + 1;
    expect(size).toBeLessThan(maxIndexBytes(1024, 'focused'));
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: watchedBody(STORED).body, ETag: '"e1"', ContentLength: size });

    // Act / Assess
    await expect(
      updateIndex(s3, LOCATION, addBeta, { memoryMb: 1024, focus, maxAttempts: 1 }),
    ).rejects.toThrow(/it did not write itself .* updates parse only the charts they touch/);
  });

  it('updates an index within the ceiling, and one of any size when no memory is given', async () => {
    // Prepare: a stamped index whose real length is given
    const stamp = createHash('sha256').update(STORED).digest('hex');
    s3Mock.on(GetObjectCommand).callsFake(() => ({
      Body: watchedBody(STORED).body,
      ETag: '"e1"',
      ContentLength: Buffer.byteLength(STORED),
      Metadata: { [WRITTEN_DIGEST_METADATA]: stamp },
    }));
    s3Mock.on(PutObjectCommand).resolves({});

    // Act
    const bounded = await updateIndex(s3, LOCATION, addBeta, { memoryMb: 1024, focus, maxAttempts: 1 });
    const unbounded = await updateIndex(s3, LOCATION, addBeta, { focus, maxAttempts: 1 });

    // Assess
    expect(bounded.outcome).toBe('updated');
    expect(unbounded.outcome).toBe('updated');
  });

  it('reads a body cut short of its Content-Length as a retryable failure, not as a shorter index', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).resolves({
      Body: watchedBody(STORED.slice(0, 40)).body,
      ETag: '"e1"',
      ContentLength: Buffer.byteLength(STORED),
    });

    // Act
    const error = await updateIndex(s3, LOCATION, addBeta, { maxAttempts: 1 }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as AwsCallError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/ended after 40 of \d+ bytes/);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
