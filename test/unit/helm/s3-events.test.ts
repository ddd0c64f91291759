import { InvalidEventError } from '../../../lib/errors';
import {
  classifyEventName,
  compareSequencers,
  decodeS3Key,
  parseInvocation,
  parseS3Event,
  selectChartKeys,
} from '../../../lib/helm/s3-events';
import { UNSAFE_KEY_REASON } from '../../../lib/helm/store/chart-store';
import { encodeS3Key, loadS3Event, s3Event } from './events';

const FILTER = { bucket: 'acme-helm-charts', prefix: 'charts/', indexKey: 'charts/index.yaml' };

describe('decodeS3Key', () => {
  it('reads + as a space and %2B as a plus, as S3 form-encodes keys', () => {
    expect(decodeS3Key('charts/team+a/web+app-1.0.0%2Bbuild.7.tgz')).toBe(
      'charts/team a/web app-1.0.0+build.7.tgz',
    );
  });

  it('decodes UTF-8 percent escapes', () => {
    expect(decodeS3Key('charts/caf%C3%A9-1.0.0.tgz')).toBe('charts/café-1.0.0.tgz');
  });

  it('rejects a broken escape with an error naming the key', () => {
    expect(() => decodeS3Key('charts/a%E0%A4%A.tgz')).toThrow(InvalidEventError);
    expect(() => decodeS3Key('charts/a%E0%A4%A.tgz')).toThrow('charts/a%E0%A4%A.tgz');
  });

  it('is the inverse of the encoding used to build test events', () => {
    const keys = ['charts/a b+c.tgz', 'charts/ünïcode/ä 1.tgz', "charts/(x)!*'~.tgz", 'charts/100%.tgz'];
    for (const key of keys) expect(decodeS3Key(encodeS3Key(key))).toBe(key);
  });
});

describe('classifyEventName', () => {
  it.each([
    ['ObjectCreated:Put', 'created'],
    ['ObjectCreated:CompleteMultipartUpload', 'created'],
    ['ObjectCreated:Copy', 'created'],
    ['s3:ObjectCreated:Post', 'created'],
    ['ObjectRemoved:Delete', 'removed'],
    ['ObjectRemoved:DeleteMarkerCreated', 'removed'],
    ['LifecycleExpiration:Delete', 'removed'],
    ['ObjectTagging:Put', 'other'],
    ['ObjectRestore:Completed', 'other'],
  ])('classifies %s as %s', (eventName, kind) => {
    expect(classifyEventName(eventName)).toBe(kind);
  });
});

describe('compareSequencers', () => {
  it('orders hexadecimal sequencers after right-padding the shorter one with zeros', () => {
    expect(compareSequencers('00674A0F3B7C1D2E3F', '00674A10AB19C0FFEE')).toBeLessThan(0);
    expect(compareSequencers('00674A10', '00674A0F3B7C1D2E3F')).toBeGreaterThan(0);
    expect(compareSequencers('0A', '0a00')).toBe(0);
    expect(compareSequencers(undefined, '01')).toBeLessThan(0);
  });
});

describe('parseS3Event', () => {
  it('accepts every fixture as S3 sends it', () => {
    for (const name of [
      'object-created-put',
      'object-created-encoded-key',
      'object-removed-delete',
      'batch',
    ] as const) {
      expect(parseS3Event(loadS3Event(name)).length).toBeGreaterThan(0);
    }
  });

  it('rejects a record without an object key, naming where', () => {
    // Prepare
    const event = loadS3Event('object-created-put') as unknown as {
      Records: { s3: { object: { key?: string } } }[];
    };
    delete event.Records[0]?.s3.object.key;

    // Act / Assess
    expect(() => parseS3Event(event)).toThrow(InvalidEventError);
    expect(() => parseS3Event(event)).toThrow('Records.0.s3.object.key');
  });

  it('rejects an event with no records', () => {
    expect(() => parseS3Event({ Records: [] })).toThrow(/Records/);
  });
});

describe('selectChartKeys', () => {
  it('keeps created and removed .tgz records under the prefix and says why the others are ignored', () => {
    // Act
    const { notices, ignored } = selectChartKeys(parseS3Event(loadS3Event('batch')), FILTER);

    // Assess
    expect(notices.map((notice) => [notice.key, notice.kind])).toEqual([
      ['charts/payments-api-1.5.0.tgz', 'created'],
      ['charts/ledger-0.9.0-rc.1.tgz', 'created'],
      ['charts/payments-api-1.3.0.tgz', 'removed'],
    ]);
    expect(ignored).toEqual([
      { key: 'charts/README.md', reason: 'not a .tgz archive' },
      { key: 'charts/index.yaml', reason: 'the index itself' },
      { key: 'archive/payments-api-0.1.0.tgz', reason: 'outside the prefix "charts/"' },
    ]);
  });

  it('decodes the key before matching it', () => {
    // Act
    const { notices } = selectChartKeys(parseS3Event(loadS3Event('object-created-encoded-key')), FILTER);

    // Assess
    expect(notices).toEqual([
      expect.objectContaining({
        key: 'charts/team a/web app-1.0.0+build.7.tgz',
        kind: 'created',
        versionId: '3HL4kqtJlcpXroDTDmjVBH40Nrjfkd',
      }),
    ]);
  });

  it('collapses duplicate deliveries and several records of one key into one notice, the latest by sequencer', () => {
    // Prepare
    const event = s3Event([
      { bucket: FILTER.bucket, key: 'charts/a-1.0.0.tgz', kind: 'removed', sequencer: '00674B0000000000FF' },
      { bucket: FILTER.bucket, key: 'charts/a-1.0.0.tgz', kind: 'created', sequencer: '00674B000000000001' },
      { bucket: FILTER.bucket, key: 'charts/a-1.0.0.tgz', kind: 'created', sequencer: '00674B000000000001' },
    ]);

    // Act
    const { notices } = selectChartKeys(parseS3Event(event), FILTER);

    // Assess
    expect(notices).toEqual([
      expect.objectContaining({
        key: 'charts/a-1.0.0.tgz',
        kind: 'removed',
        records: 3,
        sequencer: '00674B0000000000FF',
      }),
    ]);
  });

  it('ignores records of another bucket and events that do not change objects', () => {
    // Prepare
    const event = s3Event([
      { bucket: 'someone-else', key: 'charts/a-1.0.0.tgz' },
      { bucket: FILTER.bucket, key: 'charts/b-1.0.0.tgz', eventName: 'ObjectTagging:Put' },
    ]);

    // Act
    const { notices, ignored } = selectChartKeys(parseS3Event(event), FILTER);

    // Assess
    expect(notices).toEqual([]);
    expect(ignored.map((record) => record.reason)).toEqual([
      'bucket someone-else is not acme-helm-charts',
      'event ObjectTagging:Put does not change charts',
    ]);
  });

  it('with an empty prefix takes the whole bucket but still not the index', () => {
    // Prepare
    const event = s3Event([
      { bucket: FILTER.bucket, key: 'a-1.0.0.tgz' },
      { bucket: FILTER.bucket, key: 'index.yaml' },
    ]);

    // Act
    const { notices } = selectChartKeys(parseS3Event(event), {
      ...FILTER,
      prefix: '',
      indexKey: 'index.yaml',
    });

    // Assess
    expect(notices.map((notice) => notice.key)).toEqual(['a-1.0.0.tgz']);
  });
});

describe('parseInvocation', () => {
  it('passes S3 notifications through and reads rebuild commands', () => {
    expect(parseInvocation(loadS3Event('batch')).kind).toBe('s3');
    expect(parseInvocation({ action: 'rebuild' })).toEqual({ kind: 'rebuild', force: false, dryRun: false });
    expect(parseInvocation({ action: 'rebuild', force: true, dryRun: true })).toEqual({
      kind: 'rebuild',
      force: true,
      dryRun: true,
    });
  });

  it.each([
    [{ action: 'reindex' }, 'action:'],
    [{ action: 'rebuild', force: 'yes' }, 'force:'],
    [{ action: 'rebuild', froce: true }, 'froce'],
    [{ detail: {} }, 'unsupported invocation with keys [detail]'],
    ['rebuild', 'unsupported invocation (string)'],
    [null, 'unsupported invocation (null)'],
  ])('rejects %j with a clear InvalidEventError', (event, message) => {
    expect(() => parseInvocation(event)).toThrow(InvalidEventError);
    expect(() => parseInvocation(event)).toThrow(message);
  });
});

describe('selectChartKeys: keys whose URL would name another object', () => {
  it.each([
    'charts/../x.tgz',
    'charts/sub/../../other/x.tgz',
    'charts/./y.tgz',
    'charts//z.tgz',
    'charts/sub/./../w.tgz',
  ])('ignores %s, after URL decoding, saying why', (key) => {
    // Act
    const { notices, ignored } = selectChartKeys(
      parseS3Event(s3Event([{ bucket: FILTER.bucket, key }])),
      FILTER,
    );

    // Assess
    expect(notices).toEqual([]);
    expect(ignored).toEqual([{ key, reason: UNSAFE_KEY_REASON }]);
  });

  it('keeps keys whose segments only contain dots among other characters', () => {
    const key = 'charts/v1..2/web.app-1.0.0.tgz';

    const { notices } = selectChartKeys(parseS3Event(s3Event([{ bucket: FILTER.bucket, key }])), FILTER);

    expect(notices.map((notice) => notice.key)).toEqual([key]);
  });
});
