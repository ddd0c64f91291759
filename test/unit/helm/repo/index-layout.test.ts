import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import {
  applyChanges,
  chartEntry,
  emptyIndex,
  parseIndex,
  type ResolvedChange,
  serializeIndex,
} from '../../../../lib/helm/repo/index-file';
import {
  focusedText,
  type IndexFocus,
  mergeFocused,
  splitIndexLayout,
} from '../../../../lib/helm/repo/index-layout';
import { readIndex, updateIndex, WRITTEN_DIGEST_METADATA } from '../../../../lib/helm/store/index-store';
import type { ChartVersionEntry, IndexFile } from '../../../../lib/helm/types';
import { objectBody } from '../s3-mock';

const T0 = new Date('2026-01-02T03:04:05.678Z');

/** The S3 metadata the indexer writes with an index: the SHA-256 of its bytes. */
function stampOf(text: string): Record<string, string> {
  return { [WRITTEN_DIGEST_METADATA]: createHash('sha256').update(text, 'utf8').digest('hex') };
}
const T1 = new Date('2026-01-02T03:04:06Z');

function entry(
  name: string,
  version: string,
  url = `${name}-${version}.tgz`,
  digest = 'a',
  description = `chart ${name}: "${version}"`,
): ChartVersionEntry {
  return chartEntry(
    {
      metadata: { apiVersion: 'v2', name, version, description },
      digest: digest.repeat(64),
      size: 1,
    },
    url,
    T0,
  );
}

function indexOf(...entries: ChartVersionEntry[]): IndexFile {
  return applyChanges(
    emptyIndex(T0),
    entries.map((e) => ({ kind: 'upsert' as const, entry: e })),
    T0,
  ).index;
}

/** The whole-file result an update must produce: parse everything, apply, serialize everything. */
function fullUpdate(text: string, changes: ResolvedChange[]): { changed: boolean; text: string } {
  const result = applyChanges(parseIndex(text), changes, T1);
  return { changed: result.changed, text: result.changed ? serializeIndex(result.index) : text };
}

function focusOfChanges(changes: ResolvedChange[]): IndexFocus {
  return {
    names: changes.flatMap((change) => (change.kind === 'upsert' ? [change.entry.name] : [])),
    urls: changes.map((change) => (change.kind === 'upsert' ? (change.entry.urls?.[0] ?? '') : change.url)),
  };
}

/**
 * The same update through the layout: parse the focused blocks only, splice the result back. With
 * `spare`, the stored bytes sit at the start of a buffer with that many bytes after them, and the
 * result is assembled there when it fits (as the store does with the body it read).
 */
function focusedUpdate(
  text: string,
  changes: ResolvedChange[],
  spare?: number,
): { changed: boolean; text: string; inPlace?: boolean } {
  const stored = Buffer.from(text);
  const room = spare === undefined ? undefined : Buffer.alloc(stored.length + spare, 0x7e);
  room && stored.copy(room);
  const layout = splitIndexLayout(room ? room.subarray(0, stored.length) : stored);
  if (!layout) throw new Error('not in the canonical layout');
  const focused = focusedText(layout, focusOfChanges(changes));
  if (!focused) throw new Error('focus refused');
  const result = applyChanges(parseIndex(focused.text), changes, T1);
  if (!result.changed) return { changed: false, text };
  const merged = mergeFocused(layout, focused.names, serializeIndex(result.index), room);
  if (merged === undefined) throw new Error('merge refused');
  if (room) return { changed: true, text: merged.toString('utf8'), inPlace: merged.buffer === room.buffer };
  if (merged === undefined) throw new Error('merge refused');
  return { changed: true, text: merged.toString('utf8') };
}

describe('splitIndexLayout', () => {
  it('splits an index as Helm writes it into one block per chart name, in yaml.v2 key order', () => {
    // Prepare: yaml.v2 orders chart-9 before chart-10 (numbers in keys compare as numbers)
    const text = serializeIndex(indexOf(entry('chart-10', '1.0.0'), entry('chart-9', '1.0.0')));

    // Act
    const layout = splitIndexLayout(text);

    // Assess
    expect(layout?.blocks.map(([name]) => name)).toEqual(['chart-9', 'chart-10']);
    expect(layout?.blocks[0]?.[1].toString().startsWith('  chart-9:\n  - ')).toBe(true);
    expect(layout?.generatedLine).toBe('generated: "2026-01-02T03:04:05.678Z"\n');
    expect(
      `apiVersion: v1\nentries:\n${layout?.blocks.map(([, b]) => b).join('')}${layout?.generatedLine}`,
    ).toBe(text);
  });

  it('reads the empty index', () => {
    expect(splitIndexLayout(serializeIndex(emptyIndex(T0)))).toEqual({
      blocks: [],
      generatedLine: 'generated: "2026-01-02T03:04:05.678Z"\n',
    });
  });

  const canonical = serializeIndex(indexOf(entry('alpha', '1.0.0'), entry('beta', '1.0.0')));
  it.each([
    ['annotations before apiVersion', `annotations:\n  team: x\n${canonical}`],
    ['serverInfo after generated', `${canonical}serverInfo:\n  contextPath: /x\n`],
    ['a JSON index', JSON.stringify(parseIndex(canonical))],
    ['chart names out of order', canonical.replace('  alpha:', '  zeta:')],
    ['a quoted chart name', canonical.replace('  alpha:', '  "alpha":')],
    ['a chart name that yaml.v2 reads as a bool', canonical.replace('  alpha:', '  on:')],
    ['a chart name with no versions', canonical.replace(/ {2}beta:\n[\s\S]*(?=generated)/, '  beta: []\n')],
    ['CRLF line ends', canonical.replaceAll('\n', '\r\n')],
    ['no generated line', canonical.replace(/generated: .*\n$/, '')],
    ['a line after generated', `${canonical}# comment\n`],
    [
      'a top-level key between entries and generated',
      canonical.replace('generated:', 'other: 1\ngenerated:'),
    ],
  ])('leaves %s to the full parse', (_, text) => {
    expect(splitIndexLayout(text)).toBeUndefined();
  });
});

describe('focusedText', () => {
  it('keeps the named charts and every chart whose block mentions a focused URL', () => {
    // Prepare
    const layout = splitIndexLayout(
      serializeIndex(
        indexOf(entry('alpha', '1.0.0'), entry('beta', '1.0.0', 'shared.tgz'), entry('gamma', '1.0.0')),
      ),
    );
    if (!layout) throw new Error('layout expected');

    // Act
    const focused = focusedText(layout, { names: ['alpha', 'delta'], urls: ['shared.tgz'] });

    // Assess
    expect([...(focused?.names ?? [])]).toEqual(['alpha', 'beta']);
    expect(Object.keys(parseIndex(focused?.text ?? '').entries)).toEqual(['alpha', 'beta']);
  });

  it('refuses URLs that YAML could write in another form', () => {
    const layout = splitIndexLayout(serializeIndex(indexOf(entry('alpha', '1.0.0'))));
    if (!layout) throw new Error('layout expected');
    expect(focusedText(layout, { names: [], urls: ['caf\u00e9.tgz'] })).toBeUndefined();
    expect(focusedText(layout, { names: [], urls: ['a b.tgz'] })).toBeUndefined();
  });
});

describe('a focused update', () => {
  const names = ['a', 'b-1', 'chart-9', 'chart-10', 'zz'];
  const versions = ['1.0.0', '1.2.0', '2.0.0-rc.1', '0.1.0+build'];
  const anEntry = fc
    .record({
      name: fc.constantFrom(...names),
      version: fc.constantFrom(...versions),
      digest: fc.constantFrom('a', 'b'),
      // Sometimes the archive sits under another chart's file name (an overwritten object).
      urlOwner: fc.option(fc.constantFrom(...names), { nil: undefined }),
      // Long folded lines, quoting, and (in annotations, which Helm does not sanitise) literal blocks
      // with empty lines: block text the layout must carry.
      description: fc.constantFrom('plain', `${'long words '.repeat(12)}end`, 'a: b', ''),
      note: fc.constantFrom('', 'two\n\nparagraphs\n', 'x: "y"'),
    })
    .map(({ name, version, digest, urlOwner, description, note }) => ({
      ...entry(name, version, `${urlOwner ?? name}-${version}.tgz`, digest, description),
      ...(note ? { annotations: { note } } : {}),
    }));
  const aChange: fc.Arbitrary<ResolvedChange> = fc.oneof(
    anEntry.map((e) => ({ kind: 'upsert' as const, entry: e })),
    fc
      .record({ name: fc.constantFrom(...names), version: fc.constantFrom(...versions) })
      .map(({ name, version }) => ({ kind: 'remove' as const, url: `${name}-${version}.tgz` })),
  );

  it('writes byte for byte what parsing and writing the whole index writes', () => {
    fc.assert(
      fc.property(
        fc.array(anEntry, { maxLength: 12 }),
        fc.array(aChange, { minLength: 1, maxLength: 4 }),
        (existing, changes) => {
          // Prepare
          // As stored: read back once, the way Helm loads it (strings sanitised), then written.
          const text = serializeIndex(parseIndex(serializeIndex(indexOf(...existing))));
          expect(splitIndexLayout(text)).toBeDefined();

          // Act
          const focused = focusedUpdate(text, changes);

          // Assess
          expect(focused).toEqual(fullUpdate(text, changes));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes the same bytes when it assembles the result in place in the buffer it read', () => {
    let inPlace = 0;
    let copied = 0;
    fc.assert(
      fc.property(
        fc.array(anEntry, { maxLength: 12 }),
        fc.array(aChange, { minLength: 1, maxLength: 4 }),
        // Spare room from none to more than any update here needs: both the in-place and the copy case.
        fc.nat({ max: 2000 }),
        (existing, changes, spare) => {
          // Prepare
          const text = serializeIndex(parseIndex(serializeIndex(indexOf(...existing))));

          // Act
          const focused = focusedUpdate(text, changes, spare);

          // Assess
          const full = fullUpdate(text, changes);
          expect({ changed: focused.changed, text: focused.text }).toEqual(full);
          if (focused.inPlace === true) inPlace++;
          if (focused.inPlace === false) copied++;
        },
      ),
      { numRuns: 1000 },
    );
    expect(inPlace).toBeGreaterThan(100);
    expect(copied).toBeGreaterThan(10);
  });
});

describe("Go's nil lists", () => {
  // helm (sigs.k8s.io/yaml over encoding/json) writes a nil slice as null and an empty one as [].
  const text = [
    'apiVersion: v1',
    'entries:',
    '  empty: null',
    '  old:',
    '  - apiVersion: v2',
    '    created: "2026-01-02T03:04:05Z"',
    '    name: old',
    '    urls: null',
    '    version: 0.9.0',
    '  zero:',
    '  - apiVersion: v2',
    '    created: "2026-01-02T03:04:05Z"',
    '    name: zero',
    '    urls: []',
    '    version: 1.0.0',
    'generated: "2026-01-02T03:04:05Z"',
    '',
  ].join('\n');

  it('reads and writes back urls: null, urls: [] and a chart: null unchanged', () => {
    expect(serializeIndex(parseIndex(text))).toBe(text);
  });

  it('reads an entry without urls as urls: null', () => {
    const withoutUrls = text.replace('    urls: null\n', '');
    expect(serializeIndex(parseIndex(withoutUrls))).toBe(text);
  });

  it.each([
    ['a chart they are in', [entry('old', '1.0.0')]],
    ['another chart', [entry('beta', '1.0.0')]],
  ])('keeps them when a version is added to %s', (_, added) => {
    const changes = added.map((e) => ({ kind: 'upsert' as const, entry: e }));
    const full = fullUpdate(text, changes);
    expect(full.changed).toBe(true);
    expect(full.text).toContain('  empty: null\n');
    expect(full.text).toContain('    name: old\n    urls: null\n    version: 0.9.0\n');
    expect(full.text).toContain('    name: zero\n    urls: []\n');
  });

  it('leaves an index with a chart: null to the whole-file path', () => {
    expect(splitIndexLayout(text)).toBeUndefined();
  });

  it.each([
    ['a chart they are in', [entry('old', '1.0.0')]],
    ['another chart', [entry('beta', '1.0.0')]],
  ])('the focused path writes what the whole-file path writes when a version is added to %s', (_, added) => {
    const changes = added.map((e) => ({ kind: 'upsert' as const, entry: e }));
    const withoutNilChart = text.replace('  empty: null\n', '');
    const full = fullUpdate(withoutNilChart, changes);
    expect(full.text).toContain('    name: old\n    urls: null\n    version: 0.9.0\n');
    expect(focusedUpdate(withoutNilChart, changes)).toEqual(full);
  });
});

describe('updateIndex with a focus', () => {
  const s3Mock = mockClient(S3Client);
  const s3 = new S3Client({ region: 'eu-west-1' });
  const LOCATION = { bucket: 'acme-helm-charts', key: 'charts/index.yaml' };
  afterEach(() => s3Mock.reset());

  it('shows the decision only the focused charts and writes the whole index', async () => {
    // Prepare
    const stored = serializeIndex(
      indexOf(entry('alpha', '1.0.0'), entry('beta', '1.0.0'), entry('gamma', '1.0.0')),
    );
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: objectBody(stored), ETag: '"e1"', Metadata: stampOf(stored) });
    s3Mock.on(PutObjectCommand).resolves({});
    const added = entry('beta', '2.0.0');
    const seen: string[][] = [];

    // Act
    const result = await updateIndex(
      s3,
      LOCATION,
      async (current) => {
        if (current.state !== 'readable') throw new Error('readable index expected');
        seen.push(Object.keys(current.index.entries));
        return applyChanges(current.index, [{ kind: 'upsert', entry: added }], T1).index;
      },
      { maxAttempts: 2, focus: () => ({ names: ['beta'], urls: [added.urls?.[0] ?? ''] }) },
    );

    // Assess
    expect(result.outcome).toBe('updated');
    expect(seen).toEqual([['beta']]);
    const written = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input as PutObjectCommandInput;
    expect(written.IfMatch).toBe('"e1"');
    expect(String(written.Body)).toBe(fullUpdate(stored, [{ kind: 'upsert', entry: added }]).text);
    expect(written.Metadata).toEqual(stampOf(String(written.Body)));
  });

  it.each([
    ['carries no digest (written by helm or another tool)', () => ({})],
    ['was changed after this indexer wrote it', (text: string) => stampOf(`${text} `)],
  ])('parses the whole index, as helm would, when it %s', async (_case, metadata) => {
    // Prepare: helm's layout, but an untouched block holds what helm refuses (an unknown field)
    const stored = serializeIndex(indexOf(entry('alpha', '1.0.0'), entry('beta', '1.0.0'))).replace(
      '    name: alpha\n',
      '    name: alpha\n    nickname: a\n',
    );
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: objectBody(stored), ETag: '"e1"', Metadata: metadata(stored) });

    // Act
    const current = await readIndex(s3, LOCATION, { names: ['beta'], urls: [] });

    // Assess
    expect(current.state).toBe('unreadable');
  });

  it('sorts and drops what helm sorts and drops in an index it did not write, on an incremental update too', async () => {
    // Prepare: helm's layout, an unsorted chart and an invalid version, neither touched by the update
    const stored = [
      'apiVersion: v1',
      'entries:',
      '  alpha:',
      '  - apiVersion: v2',
      '    created: "2026-01-02T03:04:05Z"',
      '    name: alpha',
      '    urls:',
      '    - alpha-1.0.0.tgz',
      '    version: 1.0.0',
      '  - apiVersion: v2',
      '    created: "2026-01-02T03:04:05Z"',
      '    name: alpha',
      '    urls:',
      '    - alpha-2.0.0.tgz',
      '    version: 2.0.0',
      '  - apiVersion: v2',
      '    created: "2026-01-02T03:04:05Z"',
      '    name: alpha',
      '    urls:',
      '    - alpha-bad.tgz',
      '    version: not-a-version',
      'generated: "2026-01-02T03:04:05Z"',
      '',
    ].join('\n');
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(stored), ETag: '"e1"' });
    s3Mock.on(PutObjectCommand).resolves({});
    const added = entry('beta', '1.0.0');
    const changes = [{ kind: 'upsert' as const, entry: added }];

    // Act
    await updateIndex(
      s3,
      LOCATION,
      async (current) => {
        if (current.state !== 'readable') throw new Error('readable index expected');
        return applyChanges(current.index, changes, T1).index;
      },
      { maxAttempts: 1, focus: () => focusOfChanges(changes) },
    );

    // Assess: the whole-file result, which is helm's
    const written = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input as PutObjectCommandInput;
    expect(String(written.Body)).toBe(fullUpdate(stored, changes).text);
    expect(String(written.Body)).not.toContain('not-a-version');
    expect(String(written.Body).indexOf('alpha-2.0.0.tgz')).toBeLessThan(
      String(written.Body).indexOf('alpha-1.0.0.tgz'),
    );
  });

  it('parses the whole index when it is not in the layout Helm writes', async () => {
    // Prepare
    const stored = `annotations:\n  team: x\n${serializeIndex(indexOf(entry('alpha', '1.0.0'), entry('beta', '1.0.0')))}`;
    s3Mock.on(GetObjectCommand).resolves({ Body: objectBody(stored), ETag: '"e1"' });

    // Act
    const current = await readIndex(s3, LOCATION, { names: ['beta'], urls: [] });

    // Assess
    expect(current.state === 'readable' && Object.keys(current.index.entries)).toEqual(['alpha', 'beta']);
    expect(current.state === 'readable' && current.partial).toBeUndefined();
  });
});
