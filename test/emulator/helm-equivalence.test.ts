/**
 * Our index against the real Helm client: charts made with `helm create` + `helm package`, indexed by
 * `helm repo index` and by readChartArchive + chartEntry + applyChanges; every entry must be equal and
 * the serialised file identical byte for byte (apart from the times and, when asked, the URL base).
 * No moto here: this file sits under emulator/ because it needs an external tool. A missing helm fails.
 */

import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readChartArchive } from '../../lib/helm/chart/chart';
import {
  applyChanges,
  chartEntry,
  chartUrl,
  emptyIndex,
  parseIndex,
  serializeIndex,
} from '../../lib/helm/repo/index-file';
import { serializeIndexJson } from '../../lib/helm/repo/index-json';
import type { IndexFile } from '../../lib/helm/types';
import { chartArchive } from '../support/chart-archives';
import { HELM_BIN } from '../support/moto-server';

interface ChartSpec {
  dir: string;
  chartYaml: string;
  /** Subcharts to create under charts/ (helm package refuses declared dependencies that are missing). */
  subcharts?: string[];
  files?: Record<string, string>;
}

const FULL_CHART = `apiVersion: v2
name: full
description: |
  A long description, longer than the eighty columns after which the Go YAML emitter folds lines, with "quotes", 'apostrophes', colons: and # hashes.
  Ünïcödé and an emoji 😀 on a second line.
version: 1.2.3-rc.1+build.5
appVersion: 1.10
kubeVersion: ">=1.22.0-0"
home: https://example.com/full
icon: https://example.com/icon.png
sources:
  - https://github.com/example/full
  - "yes"
keywords: [database, "123", true, "null", "-x", "#tag", "a: b", "on", 2024-01-02]
maintainers:
  - name: Jöhn Dœ
    email: john@example.com
    url: https://john.example.com
  - name: Platform Team
deprecated: true
annotations:
  artifacthub.io/changes: |
    - kind: added
      description: something
  category: "2024-01-02"
  number: 12
  "10": ten
  "2": two
  trailing: "space "
  binary: !!binary aGVsbG8gd29ybGQ=
  tab: "a\\tb"
  clip: "x\\ny\\n"
  strip: "x\\ny"
  keep: "x\\n\\n"
  indented: " x\\n"
  spacebreak: "x \\ny"
  crlf: "a\\r\\nb"
  bom: "\\uFEFFbom"
  ab: "1"
  a-b: "2"
  a10: "3"
  a9: "4"
  colon: "x:"
  dashes: "---"
  hash: "a #b"
  space: " "
  folded: "A very long value that goes on and on past the eighty column limit of the emitter: yes"
type: application
dependencies:
  - name: common
    version: 1.x.x
    repository: https://charts.example.com
    condition: common.enabled
    tags: [backend, db]
    import-values:
      - child: default.data
        parent: myimports
      - data
      - 12
      - 1.5
    alias: com-mon
  - name: local
    version: "0.1.0"
    enabled: true
`;

/** A Chart.yaml with the scalar forms helm resolves when it reads an archive (not re-written by helm package). */
const RAW_FORMS_CHART = [
  'apiVersion: v2',
  'name: raw-forms',
  'version: 1.0.0',
  'description: !!str 123',
  'annotations:',
  '  binary: !!binary aGVsbG8gd29ybGQ=',
  '  multiline-binary: !!binary |',
  '    aGVsbG8g',
  '    d29ybGQ=',
  '  explicit: !!str true',
  '  1e39: beyond float32, a key',
  // all digits, beyond float32: sigs.k8s.io/yaml formats it as a float32, helm writes +Inf
  `appVersion: 1${'0'.repeat(45)}`,
  '',
].join('\n');

const version = (v: string): ChartSpec => ({
  dir: `ordered-${v.replace('+', '_')}`,
  chartYaml: `apiVersion: v2\nname: ordered\nversion: ${v}\nappVersion: "1.0"\ndescription: ordering\n`,
});

const CHARTS: ChartSpec[] = [
  { dir: 'full', chartYaml: FULL_CHART, subcharts: ['common', 'local'] },
  ...['2.0.0', '2.0.0-alpha.10', '2.0.0-alpha.9', '10.0.0+b', '10.0.0', '10.0.0+a', '1.10.0', '1.9.0'].map(
    version,
  ),
  {
    dir: 'legacy',
    chartYaml: 'name: legacy\nversion: 0.1.0\ndescription: a chart without apiVersion\nengine: gotpl\n',
    subcharts: ['mysql'],
    files: {
      'requirements.yaml':
        'dependencies:\n  - name: mysql\n    version: ">=0.1.0"\n    repository: "@stable"\n',
    },
  },
  {
    dir: 'lib',
    chartYaml: 'apiVersion: v2\nname: lib\nversion: v3.1\ntype: library\ndescription: lenient version\n',
  },
];

function helm(args: string[], cwd: string): string {
  return execFileSync(HELM_BIN, args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(cwd, '.cache'),
      HELM_CONFIG_HOME: join(cwd, '.config'),
      HELM_DATA_HOME: join(cwd, '.data'),
    },
  });
}

async function ourIndex(dir: string, baseUrl?: string): Promise<IndexFile> {
  let index = emptyIndex(new Date());
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith('.tgz'))
    .sort()) {
    const archive = await readChartArchive(createReadStream(join(dir, file)));
    const url = chartUrl(`charts/${file}`, {
      indexKey: 'charts/index.yaml',
      ...(baseUrl === undefined ? {} : { baseUrl }),
    });
    index = applyChanges(
      index,
      [{ kind: 'upsert', entry: chartEntry(archive, url, new Date()) }],
      new Date(),
    ).index;
  }
  return index;
}

/** Our index with helm's times, so that the serialised files can be compared byte for byte. */
function withTimesOf(ours: IndexFile, theirs: IndexFile): IndexFile {
  const entries = Object.fromEntries(
    Object.entries(ours.entries).map(([name, versions]) => [
      name,
      (versions ?? []).map((entry) => {
        const match = theirs.entries[name]?.find((other) => other.digest === entry.digest);
        return { ...entry, created: match?.created ?? entry.created };
      }),
    ]),
  );
  return { ...ours, entries, generated: theirs.generated };
}

describe('index equivalence with the real helm client', () => {
  let work: string;
  let packages: string;

  beforeAll(() => {
    if (!existsSync(HELM_BIN)) {
      throw new Error(`helm not found at ${HELM_BIN}: run "npm run setup" (scripts/setup-tools.sh) first`);
    }
    work = mkdtempSync(join(tmpdir(), 'helm-equivalence-'));
    packages = join(work, 'packages');
    mkdirSync(packages);
    for (const spec of CHARTS) {
      const chartDir = join(work, spec.dir);
      helm(['create', spec.dir], work);
      writeFileSync(join(chartDir, 'Chart.yaml'), spec.chartYaml);
      for (const subchart of spec.subcharts ?? []) helm(['create', subchart], join(chartDir, 'charts'));
      for (const [path, content] of Object.entries(spec.files ?? {}))
        writeFileSync(join(chartDir, path), content);
      helm(['package', chartDir, '--destination', packages], work);
    }
    // helm package re-writes Chart.yaml from what it parsed: a chart as other tools pack it keeps the
    // YAML forms helm's loader must resolve itself (!!binary, tags), so one archive is made by hand.
    writeFileSync(join(packages, 'raw-forms-1.0.0.tgz'), chartArchive({ chartYaml: RAW_FORMS_CHART }));
  }, 60_000);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('packages every chart (the fixture itself is sound)', () => {
    expect(readdirSync(packages).filter((name) => name.endsWith('.tgz'))).toHaveLength(CHARTS.length + 1);
  });

  it('writes every entry as helm repo index does, field by field apart from created', async () => {
    // Prepare
    helm(['repo', 'index', packages], work);
    const theirs = parseIndex(readFileSync(join(packages, 'index.yaml'), 'utf8'));

    // Act
    const ours = await ourIndex(packages);

    // Assess
    const strip = (index: IndexFile) =>
      Object.fromEntries(
        Object.entries(index.entries).map(([name, versions]) => [
          name,
          (versions ?? []).map(({ created: _created, ...rest }) => rest),
        ]),
      );
    expect(Object.keys(ours.entries).sort()).toEqual(['full', 'legacy', 'lib', 'ordered', 'raw-forms']);
    expect(strip(ours)).toEqual(strip(theirs));
  });

  it('serialises the index byte for byte like helm, once the times are helm’s', async () => {
    // Prepare
    helm(['repo', 'index', packages], work);
    const text = readFileSync(join(packages, 'index.yaml'), 'utf8');

    // Act
    const ours = serializeIndex(withTimesOf(await ourIndex(packages), parseIndex(text)));

    // Assess
    expect(text).toContain('    appVersion: +Inf\n');
    expect(text).toContain('      ".inf": beyond float32, a key\n');
    expect(ours).toBe(text);
  });

  it('writes the JSON index byte for byte like helm repo index --json, once the times are helm’s', async () => {
    // Prepare
    helm(['repo', 'index', packages, '--json'], work);
    const text = readFileSync(join(packages, 'index.yaml'), 'utf8');

    // Act
    const ours = serializeIndexJson(withTimesOf(await ourIndex(packages), parseIndex(text)));

    // Assess
    expect(text.startsWith('{\n  "apiVersion": "v1",')).toBe(true);
    expect(ours).toBe(text);
  });

  it('orders versions as helm does: SemVer descending, pre-releases below releases, equal ones by file name', async () => {
    // Act
    const ours = await ourIndex(packages);

    // Assess: `+` sorts before `.` in the archive names helm reads in order
    expect(ours.entries.ordered?.map((entry) => entry.version)).toEqual([
      '10.0.0+a',
      '10.0.0+b',
      '10.0.0',
      '2.0.0',
      '2.0.0-alpha.10',
      '2.0.0-alpha.9',
      '1.10.0',
      '1.9.0',
    ]);
  });

  it('writes the same absolute URLs as helm repo index --url', async () => {
    // Prepare
    const baseUrl = 'https://charts.example.com/stable';
    helm(['repo', 'index', packages, '--url', baseUrl], work);
    const text = readFileSync(join(packages, 'index.yaml'), 'utf8');

    // Act
    const ours = serializeIndex(withTimesOf(await ourIndex(packages, baseUrl), parseIndex(text)));

    // Assess
    expect(ours).toBe(text);
    expect(text).toContain(`${baseUrl}/full-1.2.3-rc.1+build.5.tgz`);
  });

  it('reads helm’s own index and writes it back unchanged', () => {
    // Prepare
    helm(['repo', 'index', packages], work);
    const text = readFileSync(join(packages, 'index.yaml'), 'utf8');

    // Act
    const rewritten = serializeIndex(parseIndex(text));

    // Assess
    expect(rewritten).toBe(text);
  });

  it('writes urls: null and urls: [] of an index it read as helm does (helm repo index --merge)', () => {
    // Prepare: an empty chart directory merged with an index whose entries have nil and empty urls
    const mergeDir = join(work, 'merge');
    mkdirSync(mergeDir);
    const existing = [
      'apiVersion: v1',
      'entries:',
      '  nil-urls:',
      '  - apiVersion: v2',
      '    created: "2026-01-02T03:04:05Z"',
      '    name: nil-urls',
      '    version: 0.9.0',
      '  no-urls:',
      '  - apiVersion: v2',
      '    created: "2026-01-02T03:04:05Z"',
      '    name: no-urls',
      '    urls: []',
      '    version: 1.0.0',
      'generated: "2026-01-02T03:04:05Z"',
      '',
    ].join('\n');
    writeFileSync(join(work, 'existing.yaml'), existing);
    helm(['repo', 'index', mergeDir, '--merge', join(work, 'existing.yaml')], work);
    const theirs = readFileSync(join(mergeDir, 'index.yaml'), 'utf8');

    // Act
    const ours = serializeIndex({ ...parseIndex(existing), generated: parseIndex(theirs).generated });

    // Assess
    expect(theirs).toContain('urls: null');
    expect(theirs).toContain('urls: []');
    expect(ours).toBe(theirs);

    // And in the JSON form
    helm(['repo', 'index', mergeDir, '--merge', join(work, 'existing.yaml'), '--json'], work);
    const theirsJson = readFileSync(join(mergeDir, 'index.yaml'), 'utf8');
    const oursJson = serializeIndexJson({
      ...parseIndex(existing),
      generated: parseIndex(theirsJson).generated,
    });
    expect(theirsJson).toContain('"urls": null');
    expect(oursJson).toBe(theirsJson);
  });

  it('reads helm’s JSON index (helm repo index --json) to the same entries', () => {
    // Prepare
    helm(['repo', 'index', packages], work);
    const yamlIndex = parseIndex(readFileSync(join(packages, 'index.yaml'), 'utf8'));
    helm(['repo', 'index', packages, '--json'], work);
    const jsonText = readFileSync(join(packages, 'index.yaml'), 'utf8');

    // Act
    const jsonIndex = parseIndex(jsonText);

    // Assess
    expect(jsonText.trimStart().startsWith('{')).toBe(true);
    const strip = (index: IndexFile) =>
      Object.fromEntries(
        Object.entries(index.entries).map(([name, versions]) => [
          name,
          (versions ?? []).map(({ created: _c, ...rest }) => rest),
        ]),
      );
    expect(strip(jsonIndex)).toEqual(strip(yamlIndex));
  });
});
