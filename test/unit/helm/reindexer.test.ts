import { gzipSync } from 'node:zlib';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { parseIndexerConfig } from '../../../lib/helm/config';
import { handleS3Event, rebuildIndex } from '../../../lib/helm/reindexer';
import { diffIndexes } from '../../../lib/helm/repo/index-diff';
import { parseIndex } from '../../../lib/helm/repo/index-file';
import { UNSAFE_KEY_REASON } from '../../../lib/helm/store/chart-store';
import type { IndexFile } from '../../../lib/helm/types';
import { createLogger, silentLogger } from '../../../lib/observability/logger';
import { s3Event } from './events';
import { objectBody, s3Error } from './s3-mock';

const s3Mock = mockClient(S3Client);
const BUCKET = 'acme-helm-charts';

function deps(overrides: { concurrency?: number } = {}) {
  const metrics: string[] = [];
  return {
    metrics,
    deps: {
      s3: new S3Client({ region: 'eu-west-1' }),
      config: parseIndexerConfig({ bucket: BUCKET, ...overrides }),
      metrics: {
        count: (name: string, value: number) => metrics.push(`${name}=${value}`),
        publish: () => {},
      },
      sleep: async () => {},
      logger: silentLogger,
    },
  };
}

function index(entries: Record<string, [version: string, digest: string, url: string][]>): IndexFile {
  return {
    apiVersion: 'v1',
    generated: '2026-11-01T00:00:00Z',
    entries: Object.fromEntries(
      Object.entries(entries).map(([name, versions]) => [
        name,
        versions.map(([version, digest, url]) => ({
          apiVersion: 'v2' as const,
          name,
          version,
          digest,
          urls: [url],
          created: '2026-11-01T00:00:00Z',
        })),
      ]),
    ),
  };
}

afterEach(() => {
  s3Mock.reset();
});

describe('handleS3Event', () => {
  it('fails the event when a chart cannot be read, instead of treating it as deleted', async () => {
    // Prepare
    const { deps: d } = deps();
    s3Mock.on(GetObjectCommand, { Key: 'charts/a-1.0.0.tgz' }).rejects(s3Error('AccessDenied', 403));

    // Act
    const failure = handleS3Event(d, s3Event([{ bucket: BUCKET, key: 'charts/a-1.0.0.tgz' }]));

    // Assess
    await expect(failure).rejects.toThrow('S3:GetObject failed: AccessDenied');
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('does not believe a remove record when HEAD answers 403 (no ListBucket permission)', async () => {
    const { deps: d } = deps();
    s3Mock.on(HeadObjectCommand).rejects(s3Error('Forbidden', 403));

    const failure = handleS3Event(
      d,
      s3Event([{ bucket: BUCKET, key: 'charts/a-1.0.0.tgz', kind: 'removed' }]),
    );

    await expect(failure).rejects.toThrow('S3:HeadObject failed');
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('rejects an archive over the size limit from its Content-Length, without reading it', async () => {
    // Prepare
    const { deps: d, metrics } = deps();
    const body = objectBody('never read');
    const read = jest.spyOn(body as unknown as AsyncIterable<Uint8Array>, Symbol.asyncIterator);
    s3Mock.on(GetObjectCommand, { Key: 'charts/huge-1.0.0.tgz' }).resolves({
      Body: body,
      ETag: '"h"',
      ContentLength: 200 * 1024 * 1024,
    });
    s3Mock
      .on(GetObjectCommand, { Key: 'charts/index.yaml' })
      .resolves({ Body: objectBody('apiVersion: v1\nentries: {}\n'), ETag: '"i"' });

    // Act
    const summary = await handleS3Event(d, s3Event([{ bucket: BUCKET, key: 'charts/huge-1.0.0.tgz' }]));

    // Assess
    expect(summary.invalid).toEqual([
      {
        key: 'charts/huge-1.0.0.tgz',
        reason: 'archive is 209715200 bytes, over the limit of 104857600 bytes',
      },
    ]);
    expect(summary.outcome).toBe('none');
    expect(read).not.toHaveBeenCalled();
    expect(metrics).toEqual(['InvalidCharts=1']);
  });
});

describe('rebuildIndex', () => {
  it('leaves out listed keys with empty, "." or ".." segments, logging why, and never reads them', async () => {
    // Prepare
    const lines: Record<string, unknown>[] = [];
    const { deps: base } = deps();
    const d = { ...base, logger: createLogger({ write: (line) => lines.push(JSON.parse(line)) }) };
    const unsafe = ['charts/../x.tgz', 'charts/sub/../../other/x.tgz', 'charts/./y.tgz', 'charts//z.tgz'];
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: unsafe.map((Key) => ({ Key, ETag: '"e"' })),
      IsTruncated: false,
    });
    s3Mock.on(GetObjectCommand, { Key: 'charts/index.yaml' }).rejects(s3Error('NoSuchKey', 404));

    // Act
    const summary = await rebuildIndex(d);

    // Assess
    expect(summary.charts).toBe(0);
    expect(s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      'charts/index.yaml',
    ]);
    for (const key of unsafe) {
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          message: 'chart key ignored',
          key,
          reason: UNSAFE_KEY_REASON,
        }),
      );
    }
  });

  it('lists every page and reads at most `concurrency` archives at a time', async () => {
    // Prepare: 9 archives on two pages; every read is slow enough to overlap.
    const { deps: d, metrics } = deps({ concurrency: 3 });
    const keys = Array.from({ length: 9 }, (_, i) => `charts/c${i}-1.0.0.tgz`);
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: keys.slice(0, 5).map((Key) => ({ Key, ETag: `"${Key}"` })),
        IsTruncated: true,
        NextContinuationToken: 'page-2',
      })
      .resolvesOnce({
        Contents: keys.slice(5).map((Key) => ({ Key, ETag: `"${Key}"` })),
        IsTruncated: false,
      });
    s3Mock.on(GetObjectCommand, { Key: 'charts/index.yaml' }).rejects(s3Error('NoSuchKey', 404));
    let inFlight = 0;
    let peak = 0;
    for (const key of keys) {
      s3Mock.on(GetObjectCommand, { Key: key }).callsFake(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        // A gzip stream with no tar inside: invalid, which is enough to count the reads.
        return { Body: objectBody(gzipSync('no tar here')), ETag: `"${key}"` };
      });
    }

    // Act
    const summary = await rebuildIndex(d);

    // Assess
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, { ContinuationToken: 'page-2' });
    expect(s3Mock.commandCalls(GetObjectCommand).length).toBe(1 + keys.length);
    expect(peak).toBe(3);
    expect(summary.invalid.map((chart) => chart.key)).toEqual(keys);
    expect(metrics).toEqual(['InvalidCharts=9']);
  });

  it('never reads the index itself or other files as charts', async () => {
    const { deps: d } = deps();
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'charts/index.yaml' },
        { Key: 'charts/README.md' },
        { Key: 'charts/index.yaml.bak-20261122T000000Z' },
      ],
    });
    s3Mock.on(GetObjectCommand, { Key: 'charts/index.yaml' }).resolves({
      Body: objectBody('apiVersion: v1\nentries: {}\ngenerated: "2026-11-01T00:00:00Z"\n'),
      ETag: '"i"',
    });

    const summary = await rebuildIndex(d);

    expect(summary).toMatchObject({ outcome: 'none', charts: 0 });
    expect(s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      'charts/index.yaml',
    ]);
  });
});

describe('diffIndexes', () => {
  it('lists versions added, removed, and those whose digest or URL changed', () => {
    const before = index({
      a: [
        ['1.0.0', 'd1', 'a-1.0.0.tgz'],
        ['0.9.0', 'd0', 'a-0.9.0.tgz'],
      ],
      b: [['2.0.0', 'd2', 'b.tgz']],
    });
    const after = index({
      a: [
        ['1.1.0', 'd3', 'a-1.1.0.tgz'],
        ['1.0.0', 'dX', 'a-1.0.0.tgz'],
      ],
      b: [['2.0.0', 'd2', 'x/b.tgz']],
    });

    expect(diffIndexes(before, after)).toEqual({
      added: ['a@1.1.0'],
      removed: ['a@0.9.0'],
      changed: ['a@1.0.0', 'b@2.0.0'],
    });
    expect(diffIndexes(undefined, before).added).toEqual(['a@1.0.0', 'a@0.9.0', 'b@2.0.0']);
    expect(diffIndexes(before, parseIndex(JSON.stringify(before)))).toEqual({
      added: [],
      removed: [],
      changed: [],
    });
  });
});
