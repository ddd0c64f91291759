import fc from 'fast-check';
import { IndexFormatError } from '../../../../lib/errors';
import {
  applyChanges,
  chartEntry,
  chartUrl,
  type DroppedEntry,
  emptyIndex,
  formatHelmTime,
  parseIndex,
  serializeIndex,
} from '../../../../lib/helm/repo/index-file';
import { serializeIndexJson } from '../../../../lib/helm/repo/index-json';
import type { ChartArchive, ChartVersionEntry, IndexFile } from '../../../../lib/helm/types';
import { parseEmittedYaml } from '../../../../lib/helm/yaml/fast-yaml';
import { parseGoYaml } from '../../../../lib/helm/yaml/go-yaml-parse';

const T0 = new Date('2026-01-02T03:04:05.678Z');
const T1 = new Date('2026-01-02T03:04:06Z');

function archive(name: string, version: string, digest = `${name}-${version}`.padEnd(64, '0')): ChartArchive {
  return { metadata: { apiVersion: 'v2', name, version }, digest, size: 100 };
}

function entry(name: string, version: string, digest?: string): ChartVersionEntry {
  return chartEntry(archive(name, version, digest), `${name}-${version}.tgz`, T0);
}

function upsert(index: IndexFile, ...entries: ChartVersionEntry[]) {
  return applyChanges(
    index,
    entries.map((e) => ({ kind: 'upsert' as const, entry: e })),
    T1,
  );
}

describe('chartEntry', () => {
  it('copies the metadata and adds urls, created and digest', () => {
    // Prepare
    const chart: ChartArchive = {
      metadata: { apiVersion: 'v2', name: 'web', version: '1.0.0', appVersion: '2', keywords: ['a'] },
      digest: 'ab'.repeat(32),
      size: 10,
    };

    // Act
    const result = chartEntry(chart, 'web-1.0.0.tgz', T0);

    // Assess
    expect(result).toEqual({
      apiVersion: 'v2',
      name: 'web',
      version: '1.0.0',
      appVersion: '2',
      keywords: ['a'],
      urls: ['web-1.0.0.tgz'],
      created: '2026-01-02T03:04:05.678Z',
      digest: 'ab'.repeat(32),
    });
    expect(result.keywords).not.toBe(chart.metadata.keywords);
  });

  it('normalises a given creation time as Go prints it', () => {
    expect(entry('a', '1.0.0').created).toBe('2026-01-02T03:04:05.678Z');
    expect(chartEntry(archive('a', '1.0.0'), 'u', '2026-01-02T03:04:05.500000000+00:00').created).toBe(
      '2026-01-02T03:04:05.5Z',
    );
    expect(() => chartEntry(archive('a', '1.0.0'), 'u', 'yesterday')).toThrow(RangeError);
  });
});

describe('formatHelmTime', () => {
  it('drops trailing zeros of the fraction like RFC3339Nano', () => {
    expect(formatHelmTime(new Date('2026-01-02T03:04:05.100Z'))).toBe('2026-01-02T03:04:05.1Z');
    expect(formatHelmTime(new Date('2026-01-02T03:04:05.000Z'))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('chartUrl', () => {
  it.each([
    ['charts/foo-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, 'foo-1.0.0.tgz'],
    ['charts/team/foo-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, 'team/foo-1.0.0.tgz'],
    ['foo-1.0.0.tgz', { indexKey: 'index.yaml' }, 'foo-1.0.0.tgz'],
    ['other/foo-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, '../other/foo-1.0.0.tgz'],
    ['charts/foo-1.0.0+build.1.tgz', { indexKey: 'charts/index.yaml' }, 'foo-1.0.0+build.1.tgz'],
    ['charts/my chart-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, 'my%20chart-1.0.0.tgz'],
    ['charts/a#b?c%d-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, 'a%23b%3Fc%25d-1.0.0.tgz'],
    ['charts/ü-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, '%C3%BC-1.0.0.tgz'],
    ['charts/a:b-1.0.0.tgz', { indexKey: 'charts/index.yaml' }, './a:b-1.0.0.tgz'],
    [
      'charts/foo-1.0.0+b.tgz',
      { indexKey: 'charts/index.yaml', baseUrl: 'https://charts.example.com/stable/' },
      'https://charts.example.com/stable/foo-1.0.0+b.tgz',
    ],
    [
      'charts/foo-1.0.0.tgz',
      { indexKey: 'charts/index.yaml', baseUrl: 's3://bucket/charts' },
      's3://bucket/charts/foo-1.0.0.tgz',
    ],
  ])('maps %s (%o) to %s', (key, options, expected) => {
    expect(chartUrl(key, options)).toBe(expected);
  });
});

describe('applyChanges', () => {
  it('adds entries newest first and updates generated', () => {
    // Prepare
    const index = emptyIndex(T0);

    // Act
    const result = upsert(
      index,
      entry('web', '1.0.0'),
      entry('web', '1.10.0'),
      entry('web', '1.2.0-rc.1'),
      entry('db', '3.0.0'),
    );

    // Assess
    expect(result.changed).toBe(true);
    expect(result.index.entries.web?.map((e) => e.version)).toEqual(['1.10.0', '1.2.0-rc.1', '1.0.0']);
    expect(Object.keys(result.index.entries).sort()).toEqual(['db', 'web']);
    expect(result.index.generated).toBe(formatHelmTime(T1));
    expect(index.entries).toEqual({});
  });

  it('changes nothing, not even generated, for an entry already indexed with the same digest and URL', () => {
    // Prepare
    const { index } = upsert(emptyIndex(T0), entry('web', '1.0.0'));

    // Act
    const again = applyChanges(
      index,
      [{ kind: 'upsert', entry: entry('web', '1.0.0') }],
      new Date('2030-01-01T00:00:00Z'),
    );

    // Assess
    expect(again.changed).toBe(false);
    expect(again.index).toBe(index);
  });

  it('replaces an entry of the same name and version when the digest differs', () => {
    // Prepare
    const { index } = upsert(emptyIndex(T0), entry('web', '1.0.0', 'a'.repeat(64)));

    // Act
    const result = upsert(index, entry('web', '1.0.0', 'b'.repeat(64)));

    // Assess
    expect(result.changed).toBe(true);
    expect(result.index.entries.web?.map((e) => e.digest)).toEqual(['b'.repeat(64)]);
  });

  it('drops the entry a URL pointed at when that object now holds another chart', () => {
    // Prepare
    const { index } = upsert(emptyIndex(T0), entry('web', '1.0.0'), entry('web', '2.0.0'));
    const overwritten = chartEntry(archive('api', '5.0.0'), 'web-1.0.0.tgz', T1);

    // Act
    const result = upsert(index, overwritten);

    // Assess
    expect(result.index.entries.web?.map((e) => e.version)).toEqual(['2.0.0']);
    expect(result.index.entries.api?.map((e) => e.urls?.[0])).toEqual(['web-1.0.0.tgz']);
  });

  it('removes entries by URL and a chart name left without versions', () => {
    // Prepare
    const { index } = upsert(
      emptyIndex(T0),
      entry('web', '1.0.0'),
      entry('web', '2.0.0'),
      entry('db', '1.0.0'),
    );

    // Act
    const result = applyChanges(
      index,
      [
        { kind: 'remove', url: 'web-1.0.0.tgz' },
        { kind: 'remove', url: 'db-1.0.0.tgz' },
      ],
      T1,
    );

    // Assess
    expect(result.changed).toBe(true);
    expect(result.index.entries).toEqual({ web: [index.entries.web?.[0]] });
  });

  it('treats the removal of an unknown URL as no change', () => {
    // Prepare
    const { index } = upsert(emptyIndex(T0), entry('web', '1.0.0'));

    // Act
    const result = applyChanges(index, [{ kind: 'remove', url: 'gone-1.0.0.tgz' }], T1);

    // Assess
    expect(result).toEqual({ index, changed: false });
  });

  it('keeps a chart sorted even when the given index was not', () => {
    // Prepare
    const unsorted: IndexFile = {
      ...emptyIndex(T0),
      entries: { web: [entry('web', '1.0.0'), entry('web', '3.0.0')] },
    };

    // Act
    const result = upsert(unsorted, entry('web', '2.0.0'));

    // Assess
    expect(result.index.entries.web?.map((e) => e.version)).toEqual(['3.0.0', '2.0.0', '1.0.0']);
  });

  it('applies a full rebuild of 20,000 versions of one chart in one call, without quadratic work', () => {
    // Prepare
    const versions = Array.from({ length: 20_000 }, (_, i) =>
      entry('big', `${i % 100}.${Math.floor(i / 100)}.0`),
    );
    const started = performance.now();

    // Act
    const rebuilt = upsert(emptyIndex(T0), ...versions);
    const again = upsert(rebuilt.index, entry('big', '1000.0.0'));

    // Assess
    expect(rebuilt.index.entries.big).toHaveLength(20_000);
    expect(again.index.entries.big?.[0]?.version).toBe('1000.0.0');
    expect(again.index.entries.big?.[1]?.version).toBe('99.199.0');
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('applies a batch in order: an upsert then a removal of the same URL leaves nothing', () => {
    // Act
    const result = applyChanges(
      emptyIndex(T0),
      [
        { kind: 'upsert', entry: entry('web', '1.0.0') },
        { kind: 'remove', url: 'web-1.0.0.tgz' },
      ],
      T1,
    );

    // Assess
    expect(result.index.entries).toEqual({});
  });
});

const HELM_INDEX = `apiVersion: v1
entries:
  web:
  - apiVersion: v2
    appVersion: "1.0"
    created: "2026-11-22T22:43:16.358183786Z"
    description: short
    digest: fe367dff9f1baac5c7a5336b8daa34acaad22907175b74da66dc586dabb4353e
    name: web
    urls:
    - web-1.0.0.tgz
    version: 1.0.0
  - apiVersion: v2
    created: "2026-11-22T22:43:16.358639015Z"
    digest: 0d77e57063c10c2fadc43a98ec89f24fe4e234ed70e359d1a638bbfd777eb4fc
    name: web
    urls:
    - web-2.0.0.tgz
    version: 2.0.0
generated: "2026-11-22T22:43:16.357615298Z"
`;

describe('parseIndex', () => {
  it('reads an index written by helm and sorts each chart newest first', () => {
    // Act
    const index = parseIndex(HELM_INDEX);

    // Assess
    expect(index.apiVersion).toBe('v1');
    expect(index.generated).toBe('2026-11-22T22:43:16.357615298Z');
    expect(index.entries.web?.map((e) => e.version)).toEqual(['2.0.0', '1.0.0']);
    expect(index.entries.web?.[1]).toEqual({
      apiVersion: 'v2',
      appVersion: '1.0',
      created: '2026-11-22T22:43:16.358183786Z',
      description: 'short',
      digest: 'fe367dff9f1baac5c7a5336b8daa34acaad22907175b74da66dc586dabb4353e',
      name: 'web',
      urls: ['web-1.0.0.tgz'],
      version: '1.0.0',
    });
  });

  it('reads the JSON form (helm repo index --json) to the same index', () => {
    // Prepare
    const yamlIndex = parseIndex(HELM_INDEX);

    // Act
    const jsonIndex = parseIndex(JSON.stringify(yamlIndex, null, 2));

    // Assess
    expect(jsonIndex).toEqual(yamlIndex);
  });

  it('drops invalid entries and reports why, keeping the rest', () => {
    // Prepare
    const text = HELM_INDEX.replace('version: 2.0.0', 'version: two').replace(
      'entries:\n',
      'entries:\n  empty:\n  - null\n',
    );
    const dropped: DroppedEntry[] = [];

    // Act
    const index = parseIndex(text, (d) => dropped.push(d));

    // Assess
    expect(index.entries.web?.map((e) => e.version)).toEqual(['1.0.0']);
    expect(index.entries.empty).toEqual([]);
    expect(dropped).toEqual([
      { chart: 'empty', reason: 'empty entry' },
      { chart: 'web', version: 'two', reason: 'chart.metadata.version "two" is invalid' },
    ]);
  });

  it.each([
    ['an empty file', '', /empty index.yaml/],
    ['no apiVersion', HELM_INDEX.replace('apiVersion: v1\n', ''), /no API version/],
    ['an unknown top-level field', `${HELM_INDEX}extra: 1\n`, /unknown field "extra"/],
    [
      'an unknown entry field',
      HELM_INDEX.replace('    description: short\n', '    descriptoin: short\n'),
      /unknown field "descriptoin"/,
    ],
    [
      'a duplicated key',
      HELM_INDEX.replace('    description: short\n', '    description: short\n    description: again\n'),
      /already set/,
    ],
    [
      'a list where a string belongs',
      HELM_INDEX.replace('description: short', 'description: [a]'),
      /cannot unmarshal array/,
    ],
    [
      'an invalid time',
      HELM_INDEX.replace('"2026-11-22T22:43:16.358183786Z"', 'yesterday'),
      /not an RFC 3339 time/,
    ],
    // helm 3.21.4 refuses these: sigs.k8s.io/yaml does not convert scalars inside the embedded *Metadata
    [
      'a number in a metadata string field',
      HELM_INDEX.replace('description: short', 'description: 1.10'),
      /cannot unmarshal number into ChartVersion.description of type string/,
    ],
    [
      'a bool in a metadata string list',
      HELM_INDEX.replace('description: short', 'description: short\n    keywords: [true]'),
      /cannot unmarshal bool into ChartVersion.keywords/,
    ],
    [
      'a number in a maintainer',
      HELM_INDEX.replace('description: short', 'description: short\n    maintainers: [{name: 1}]'),
      /cannot unmarshal number into Maintainer.name/,
    ],
    ['broken YAML', `${HELM_INDEX}  - [`, /not valid YAML/],
    ['a list at the top', '- a\n', /not a mapping/],
  ])('refuses %s with IndexFormatError', (_case, text, reason) => {
    expect(() => parseIndex(text)).toThrow(IndexFormatError);
    expect(() => parseIndex(text)).toThrow(reason);
  });
});

describe('serializeIndex', () => {
  it('writes exactly what helm wrote', () => {
    expect(serializeIndex(parseIndex(HELM_INDEX))).toBe(
      // helm sorts entries newest first when it writes the index
      HELM_INDEX.replace(
        /( {2}- apiVersion: v2\n {4}appVersion[\s\S]*?)( {2}- apiVersion: v2\n {4}created[\s\S]*?)(generated)/,
        '$2$1$3',
      ),
    );
  });

  it('reads a number in an entry field of its own (digest) as a string, as helm does', () => {
    const text = HELM_INDEX.replace('description: short', 'description: short\n    checksum: 5');
    expect(serializeIndex(parseIndex(text))).toContain('    checksum: "5"\n');
  });

  it('writes an empty index as helm does', () => {
    expect(serializeIndex(emptyIndex(T0))).toBe(
      'apiVersion: v1\nentries: {}\ngenerated: "2026-01-02T03:04:05.678Z"\n',
    );
  });

  const scalar = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 120 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      'yes',
      'on',
      '1.0',
      '0x1F',
      '2024-01-02',
      '~',
      'null',
      '- a',
      ': x',
      '#c',
      'a: b',
      ' lead',
      'trail ',
      "it's",
      'x\n',
      '\n\nx\n\n',
      'a  b',
    ),
  );
  const chartName = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/);
  const entryArbitrary = fc.record({
    name: chartName,
    version: fc.constantFrom('1.0.0', '2.0.0-rc.1', '0.1.0+b'),
    description: scalar,
    keywords: fc.array(scalar, { maxLength: 3 }),
    annotations: fc.dictionary(scalar, scalar, { maxKeys: 3 }),
  });

  it('writes YAML that reads back to the same index, by the fast reader and the full parser alike', () => {
    fc.assert(
      fc.property(fc.array(entryArbitrary, { maxLength: 5 }), (specs) => {
        // Prepare
        let index = emptyIndex(T0);
        for (const spec of specs) {
          const metadata = { apiVersion: 'v2' as const, ...spec };
          index = upsert(
            index,
            chartEntry({ metadata, digest: 'f'.repeat(64), size: 1 }, `${spec.name}.tgz`, T0),
          ).index;
        }

        // Act
        const text = serializeIndex(index);
        const full = parseGoYaml(text, { strict: true, maxNodes: 1e6 });
        const fast = parseEmittedYaml(text);

        // Assess
        if (fast !== undefined) expect(fast).toEqual(full);
        const decodedKeys =
          typeof full !== 'string' && full.kind === 'map' ? full.entries.map(([key]) => key) : [];
        expect(decodedKeys).toEqual(['apiVersion', 'entries', 'generated']);
        expect(roundTrip(text)).toEqual(normalised(index));
      }),
      { numRuns: 300 },
    );
  });
});

/** parseIndex sanitises strings like Helm; compare against the same sanitising. */
function roundTrip(text: string): unknown {
  return JSON.parse(JSON.stringify(parseIndex(text)));
}

function normalised(index: IndexFile): unknown {
  return JSON.parse(JSON.stringify(parseIndex(JSON.stringify(index))));
}

describe("Go's nil entries map", () => {
  const GENERATED = 'generated: "2026-01-02T03:04:05Z"\n';

  it.each([
    ['entries: null', `apiVersion: v1\nentries: null\n${GENERATED}`],
    ['no entries key', `apiVersion: v1\n${GENERATED}`],
  ])('writes an index read with %s back as entries: null, as helm does', (_, text) => {
    expect(serializeIndex(parseIndex(text))).toBe(`apiVersion: v1\nentries: null\n${GENERATED}`);
    expect(serializeIndexJson(parseIndex(text))).toContain('"entries": null');
  });

  it('keeps entries: {} as an empty map', () => {
    const text = `apiVersion: v1\nentries: {}\n${GENERATED}`;
    expect(serializeIndex(parseIndex(text))).toBe(text);
    expect(serializeIndexJson(parseIndex(text))).toContain('"entries": {}');
  });

  it('writes the entries once a chart is added to a nil map', () => {
    const index = parseIndex(`apiVersion: v1\nentries: null\n${GENERATED}`);
    const entry = chartEntry(
      { metadata: { apiVersion: 'v2', name: 'alpha', version: '1.0.0' }, digest: 'a'.repeat(64), size: 1 },
      'alpha-1.0.0.tgz',
      new Date('2026-01-02T03:04:05Z'),
    );
    const added = applyChanges(index, [{ kind: 'upsert', entry }], new Date('2026-01-02T03:04:06Z')).index;
    expect(serializeIndex(added)).toContain('entries:\n  alpha:\n');
  });
});
