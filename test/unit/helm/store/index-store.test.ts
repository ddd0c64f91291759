import {
  CopyObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsCallError, IndexFormatError } from '../../../../lib/errors';
import { parseIndex } from '../../../../lib/helm/repo/index-file';
import { backupIndex, readIndex, updateIndex } from '../../../../lib/helm/store/index-store';
import type { IndexFile } from '../../../../lib/helm/types';
import { objectBody, s3Error } from '../s3-mock';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'eu-west-1' });
const LOCATION = { bucket: 'acme-helm-charts', key: 'charts/index.yaml' };

function indexText(...charts: string[]): string {
  const entries = charts
    .map(
      (name) => `  ${name}:
  - apiVersion: v2
    created: "2026-11-01T10:00:00Z"
    digest: ${'a'.repeat(64)}
    name: ${name}
    urls:
    - ${name}-1.0.0.tgz
    version: 1.0.0
`,
    )
    .join('');
  return `apiVersion: v1\nentries:${charts.length ? `\n${entries}` : ' {}\n'}generated: "2026-11-01T10:00:00Z"\n`;
}

/** Adds `name` to whatever index it is given, as a caller's decide function would. */
function addChart(name: string) {
  const seen: (string[] | undefined)[] = [];
  const decide = async (current: Awaited<ReturnType<typeof readIndex>>): Promise<IndexFile | undefined> => {
    const base = current.state === 'readable' ? current.index : parseIndex(indexText());
    seen.push(current.state === 'readable' ? Object.keys(current.index.entries) : undefined);
    if (base.entries[name]) return undefined;
    const template = parseIndex(indexText(name)).entries[name] ?? [];
    return { ...base, entries: { ...base.entries, [name]: template } };
  };
  return { decide, seen };
}

function putInputs(): PutObjectCommandInput[] {
  return s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
}

afterEach(() => {
  s3Mock.reset();
});

describe('readIndex', () => {
  it('reports an absent index on NoSuchKey', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));
    await expect(readIndex(s3, LOCATION)).resolves.toEqual({ state: 'absent' });
  });

  it('returns the parsed index with the ETag of the version read', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });

    const stored = await readIndex(s3, LOCATION);

    expect(stored).toEqual({
      state: 'readable',
      etag: '"e1"',
      index: expect.objectContaining({ apiVersion: 'v1' }),
    });
    expect(stored.state === 'readable' && Object.keys(stored.index.entries)).toEqual(['alpha']);
  });

  it('reports a damaged index as unreadable, with an error telling the operator to rebuild', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody('entries: [not: an index'), ETag: '"bad"' });

    const stored = await readIndex(s3, LOCATION);

    expect(stored.state).toBe('unreadable');
    if (stored.state !== 'unreadable') return;
    expect(stored.etag).toBe('"bad"');
    expect(stored.error).toBeInstanceOf(IndexFormatError);
    expect(stored.error.retryable).toBe(false);
    expect(stored.error.message).toContain('s3://acme-helm-charts/charts/index.yaml is unreadable');
    expect(stored.error.message).toContain('rebuild');
  });

  it('does not take a denied read for an absent index', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));

    await expect(readIndex(s3, LOCATION)).rejects.toThrow(AwsCallError);
    await expect(readIndex(s3, LOCATION)).rejects.toThrow('S3:GetObject failed: AccessDenied');
  });
});

describe('updateIndex', () => {
  const fastOptions = { maxAttempts: 4, random: () => 1, sleep: async () => {} };

  it('creates a missing index only if it is still missing (If-None-Match: *)', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"new"' });

    // Act
    const result = await updateIndex(s3, LOCATION, addChart('alpha').decide, fastOptions);

    // Assess
    expect(result).toMatchObject({ outcome: 'created', attempts: 1, conflicts: 0 });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'acme-helm-charts',
      Key: 'charts/index.yaml',
      IfNoneMatch: '*',
      ContentType: 'application/yaml; charset=utf-8',
    });
    expect(putInputs()[0]?.IfMatch).toBeUndefined();
    expect(parseIndex(String(putInputs()[0]?.Body)).entries.alpha).toHaveLength(1);
  });

  it('replaces an existing index only if it is still the version read (If-Match)', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });
    s3Mock.on(PutObjectCommand).resolves({});

    const result = await updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

    expect(result.outcome).toBe('updated');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfMatch: '"e1"' });
    expect(Object.keys(parseIndex(String(putInputs()[0]?.Body)).entries)).toEqual(['alpha', 'beta']);
  });

  it('writes nothing when the decision is "no change"', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });

    const result = await updateIndex(s3, LOCATION, addChart('alpha').decide, fastOptions);

    expect(result).toEqual({ outcome: 'none', attempts: 1, conflicts: 0 });
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it.each([
    ['PreconditionFailed', 412],
    ['ConditionalRequestConflict', 409],
  ])(
    'after %s re-reads the index and re-applies the change to what another writer wrote',
    async (code, status) => {
      // Prepare: someone adds "gamma" between our read and our write.
      s3Mock
        .on(GetObjectCommand)
        .resolvesOnce({ Body: objectBody(indexText('alpha')), ETag: '"e1"' })
        .resolves({ Body: objectBody(indexText('alpha', 'gamma')), ETag: '"e2"' });
      s3Mock.on(PutObjectCommand).rejectsOnce(s3Error(code, status)).resolves({});
      const { decide, seen } = addChart('beta');
      const delays: number[] = [];

      // Act
      const result = await updateIndex(s3, LOCATION, decide, {
        ...fastOptions,
        random: () => 0.5,
        sleep: async (ms) => {
          delays.push(ms);
        },
      });

      // Assess
      expect(result).toMatchObject({ outcome: 'updated', attempts: 2, conflicts: 1 });
      expect(seen).toEqual([['alpha'], ['alpha', 'gamma']]);
      expect(putInputs().map((input) => input.IfMatch)).toEqual(['"e1"', '"e2"']);
      expect(Object.keys(parseIndex(String(putInputs()[1]?.Body)).entries)).toEqual([
        'alpha',
        'beta',
        'gamma',
      ]);
      // decorrelated jitter: between the base (50 ms) and 3× the previous delay (150 ms)
      expect(delays).toEqual([100]);
    },
  );

  it('treats NoSuchKey on If-Match (index deleted meanwhile) as a conflict and re-creates it', async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce({ Body: objectBody(indexText('alpha')), ETag: '"e1"' })
      .rejects(s3Error('NoSuchKey', 404));
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error('NoSuchKey', 404)).resolves({});

    const result = await updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

    expect(result).toMatchObject({ outcome: 'created', conflicts: 1 });
    expect(putInputs().map((input) => [input.IfMatch, input.IfNoneMatch])).toEqual([
      ['"e1"', undefined],
      [undefined, '*'],
    ]);
  });

  it('backs off with decorrelated jitter and gives up with a retryable error after maxAttempts', async () => {
    // Prepare
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });
    s3Mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    const delays: number[] = [];

    // Act
    const failure = updateIndex(s3, LOCATION, addChart('beta').decide, {
      maxAttempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 500,
      random: () => 0.999,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });

    // Assess
    await expect(failure).rejects.toMatchObject({
      name: 'AwsCallError',
      retryable: true,
      code: 'PreconditionFailed',
    });
    await expect(failure).rejects.toThrow('changed under every one of 5 attempts');
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 5);
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 5);
    // each delay random between 100 ms and 3× the previous one, at most 500 ms
    expect(delays).toEqual([299, 500, 500, 500]);
  });

  it('without a cap, makes attempts while the invocation has time left for one more and to finish', async () => {
    // Prepare: a clock the reads and writes advance by 100 ms each, and the sleeps by their delay
    let clockMs = 0;
    const invocationMs = 10_000;
    s3Mock.on(GetObjectCommand).callsFake(async () => {
      clockMs += 100;
      return { Body: objectBody(indexText('alpha')), ETag: '"e1"' };
    });
    s3Mock.on(PutObjectCommand).callsFake(async () => {
      clockMs += 100;
      throw s3Error('PreconditionFailed', 412);
    });

    // Act
    const failure = updateIndex(s3, LOCATION, addChart('beta').decide, {
      timeLeftMs: () => invocationMs - clockMs,
      baseDelayMs: 100,
      maxDelayMs: 400,
      random: () => 0.999,
      sleep: async (ms) => {
        clockMs += ms;
      },
    });

    // Assess: attempts of 200 ms and delays of 400 ms; it stops while 3 × 200 ms + 2 s are still left
    await expect(failure).rejects.toMatchObject({ name: 'AwsCallError', retryable: true });
    await expect(failure).rejects.toThrow('as many as the time left in the invocation allowed');
    const attempts = s3Mock.commandCalls(PutObjectCommand).length;
    expect(attempts).toBeGreaterThan(10);
    expect(invocationMs - clockMs).toBeGreaterThanOrEqual(3 * 200 + 2_000 - 400);
    expect(invocationMs - clockMs).toBeLessThan(3 * 200 + 2_000 + 600);
  });

  it('without a cap, keeps going under contention until the write lands', async () => {
    // Prepare: 30 conflicts, then the write lands; far more than the old fixed 10 attempts
    let clockMs = 0;
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });
    let puts = 0;
    s3Mock.on(PutObjectCommand).callsFake(async () => {
      puts++;
      if (puts <= 30) throw s3Error('PreconditionFailed', 412);
      return {};
    });

    // Act
    const result = await updateIndex(s3, LOCATION, addChart('beta').decide, {
      timeLeftMs: () => 900_000 - clockMs,
      random: () => 0.5,
      sleep: async (ms) => {
        clockMs += ms;
      },
    });

    // Assess
    expect(result).toMatchObject({ outcome: 'updated', attempts: 31, conflicts: 30 });
  });

  describe('a write whose answer is lost', () => {
    /** One stored object: GetObject reads it; each PutObject's fate is given by the test. */
    function storeWith(text: string, onPut: (body: string, store: { text: string }) => Error | undefined) {
      const store = { text, etag: 1 };
      s3Mock
        .on(GetObjectCommand)
        .callsFake(async () => ({ Body: objectBody(store.text), ETag: `"e${store.etag}"` }));
      s3Mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
        const failure = onPut(String(input.Body), store);
        if (failure) throw failure;
        return {};
      });
      return store;
    }
    const landed = (body: string, store: { text: string; etag?: number }) => {
      store.text = body;
      return undefined;
    };

    it('is reported written when the SDK’s retry got 412 and reading back shows our bytes', async () => {
      // Prepare: the first try landed, its answer was lost; the SDK's retry met its own write
      const refusedRetry = Object.assign(s3Error('PreconditionFailed', 412), {
        $metadata: { httpStatusCode: 412, attempts: 2 },
      });
      storeWith(indexText('alpha'), (body, store) => landed(body, store) ?? refusedRetry);

      // Act
      const result = await updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

      // Assess
      expect(result).toMatchObject({ outcome: 'updated', conflicts: 0, confirmedByReadBack: true });
      expect(Object.keys(result.index?.entries ?? {})).toEqual(['alpha', 'beta']);
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    });

    it('is reported written when the request failed without an answer and reading back shows our bytes', async () => {
      storeWith(indexText('alpha'), (body, store) => landed(body, store) ?? new Error('socket hang up'));

      const result = await updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

      expect(result).toMatchObject({ outcome: 'updated', conflicts: 0, confirmedByReadBack: true });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2);
    });

    it('fails with the write’s own error when reading back shows it did not land', async () => {
      const store = storeWith(indexText('alpha'), () => s3Error('InternalError', 500));

      const failure = updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

      await expect(failure).rejects.toMatchObject({ name: 'AwsCallError', code: 'InternalError' });
      expect(store.text).toBe(indexText('alpha'));
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2);
    });

    it('counts a 412 on the SDK’s retry as a conflict when another writer’s bytes are there', async () => {
      // Prepare: the first try did not land; someone else wrote "gamma" before the retry
      let puts = 0;
      storeWith(indexText('alpha'), (body, store) => {
        puts++;
        if (puts > 1) return landed(body, store);
        store.text = indexText('alpha', 'gamma');
        return Object.assign(s3Error('PreconditionFailed', 412), {
          $metadata: { httpStatusCode: 412, attempts: 2 },
        });
      });

      const result = await updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

      expect(result).toMatchObject({ outcome: 'updated', attempts: 2, conflicts: 1 });
      expect(result.confirmedByReadBack).toBeUndefined();
      expect(Object.keys(parseIndex(String(putInputs()[1]?.Body)).entries)).toEqual([
        'alpha',
        'beta',
        'gamma',
      ]);
    });
  });

  it('does not retry a write that failed for another reason', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(indexText('alpha')), ETag: '"e1"' });
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));

    const failure = updateIndex(s3, LOCATION, addChart('beta').decide, fastOptions);

    await expect(failure).rejects.toMatchObject({
      name: 'AwsCallError',
      code: 'AccessDenied',
      retryable: false,
    });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });
});

describe('backupIndex', () => {
  it('copies the index to a timestamped key next to it', async () => {
    s3Mock.on(CopyObjectCommand).resolves({});

    const key = await backupIndex(
      s3,
      { bucket: 'acme-helm-charts', key: 'team charts/index.yaml' },
      new Date('2026-11-22T23:05:09.123Z'),
    );

    expect(key).toBe('team charts/index.yaml.bak-20261122T230509Z');
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: 'acme-helm-charts',
      Key: 'team charts/index.yaml.bak-20261122T230509Z',
      CopySource: 'acme-helm-charts/team%20charts/index.yaml',
    });
  });
});
