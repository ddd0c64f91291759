/**
 * The indexer against helm's own code on helm's own test data. tools/helm-reference is helm's pkg/repo
 * (the version setup-tools.sh builds helm from) as a small program: LoadIndexFile, SortEntries, MustAdd,
 * WriteFile / WriteJSONFile, clock pinned. Its inputs are every index file under a testdata folder of
 * helm's module and the index strings of pkg/repo/index_test.go (.tools/helm-testdata). For each input,
 * whatever helm refuses we refuse, and whatever helm writes we write byte for byte: the round trip, in
 * YAML and JSON, and adding a chart by the whole-file path and by the focused path through S3.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { IndexFormatError } from '../../lib/errors';
import { readChartArchive } from '../../lib/helm/chart/chart';
import { applyChanges, chartEntry, parseIndex, serializeIndex } from '../../lib/helm/repo/index-file';
import { serializeIndexJson } from '../../lib/helm/repo/index-json';
import { splitIndexLayout } from '../../lib/helm/repo/index-layout';
import { updateIndex, writtenIndexMetadata } from '../../lib/helm/store/index-store';
import type { ChartArchive, IndexFile } from '../../lib/helm/types';
import { chartArchive } from '../support/chart-archives';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer, TOOLS_DIR } from '../support/moto-server';

const REFERENCE_BIN = join(TOOLS_DIR, 'bin', 'helm-reference');
const TESTDATA = join(TOOLS_DIR, 'helm-testdata');
const BASE_URL = 'https://charts.example.com/stable';
const AT = '2026-01-02T03:04:05.678Z';
const CHART_YAML = `apiVersion: v2
name: reference-added
version: 0.1.0
description: Added by the reference test
appVersion: "1.2.3"
keywords: [infra, "true"]
maintainers:
- name: Ops
  email: ops@example.com
annotations:
  category: Infrastructure
`;

type Outcome = { kind: 'written'; text: string } | { kind: 'refused'; reason: string };

function reference(args: string[]): Outcome {
  try {
    const text = execFileSync(REFERENCE_BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { kind: 'written', text };
  } catch (error) {
    const failure = error as { status?: number; stderr?: string };
    if (failure.status !== 2) throw error;
    return { kind: 'refused', reason: String(failure.stderr).trim() };
  }
}

function ours(write: () => string): Outcome {
  try {
    return { kind: 'written', text: write() };
  } catch (error) {
    if (!(error instanceof IndexFormatError)) throw error;
    return { kind: 'refused', reason: error.message };
  }
}

/** Holds an outcome to helm's: both refuse, or both write the same bytes. */
function expectSame(actual: Outcome, expected: Outcome): void {
  if (expected.kind === 'refused') {
    expect({ kind: actual.kind, helmRefused: expected.reason }).toEqual({
      kind: 'refused',
      helmRefused: expected.reason,
    });
  } else {
    expect(actual).toEqual(expected);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((item) => {
    const path = join(dir, item.name);
    return item.isDirectory() ? filesUnder(path) : [path];
  });
}

/** The Go raw strings of index_test.go that hold an index. */
function indexStrings(source: string): string[] {
  return [...source.matchAll(/`([^`]*)`/g)]
    .map((match) => match[1] ?? '')
    .filter((text) => /^apiVersion:/m.test(text) && /^entries:/m.test(text));
}

describe("the indexer against helm's pkg/repo on helm's test data", () => {
  let work: string;
  let inputs: Array<{ name: string; path: string; text: string }>;
  let chartFile: string;
  let archive: ChartArchive;

  beforeAll(async () => {
    for (const needed of [REFERENCE_BIN, TESTDATA]) {
      if (!existsSync(needed))
        throw new Error(`${needed} is missing: run "bash scripts/setup-tools.sh" first`);
    }
    work = mkdtempSync(join(tmpdir(), 'helm-reference-'));
    const files = filesUnder(TESTDATA).filter((path) => /index.*\.(yaml|json)$/.test(path));
    const strings = indexStrings(readFileSync(join(TESTDATA, 'pkg/repo/index_test.go'), 'utf8')).map(
      (text, n) => {
        const path = join(work, `index_test.go-${n}.yaml`);
        writeFileSync(path, text);
        return path;
      },
    );
    inputs = [...files, ...strings].map((path) => ({
      name: path.startsWith(work) ? relative(work, path) : relative(TESTDATA, path),
      path,
      text: readFileSync(path, 'utf8'),
    }));
    chartFile = join(work, 'reference-added-0.1.0.tgz');
    writeFileSync(chartFile, chartArchive({ dir: 'reference-added', chartYaml: CHART_YAML }));
    archive = await readChartArchive(Readable.from([readFileSync(chartFile)]));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('reads every index file of helm v3.21.4 and the index strings of its index_test.go', () => {
    // 24 files under testdata folders, 4 strings in index_test.go
    expect(inputs.filter((input) => !input.name.startsWith('index_test.go'))).toHaveLength(24);
    expect(inputs.filter((input) => input.name.startsWith('index_test.go')).length).toBeGreaterThanOrEqual(4);
  });

  it('round-trips each as helm does (LoadIndexFile, SortEntries, WriteFile), refusing what helm refuses', () => {
    const results = inputs.map((input) => {
      const expected = reference(['roundtrip', input.path]);
      expectSame(
        ours(() => serializeIndex(parseIndex(input.text))),
        expected,
      );
      return expected.kind;
    });
    // Not a vacuous agreement on refusals only.
    expect(results.filter((kind) => kind === 'written').length).toBeGreaterThanOrEqual(20);
  });

  it('writes each as helm writes it with --json (WriteJSONFile)', () => {
    for (const input of inputs) {
      expectSame(
        ours(() => serializeIndexJson(parseIndex(input.text))),
        reference(['roundtrip', '--json', input.path]),
      );
    }
  });

  /** Our whole-file add: parse, apply the upsert, write. */
  function addWhole(text: string): string {
    const entry = chartEntry(archive, `${BASE_URL}/reference-added-0.1.0.tgz`, AT);
    return serializeIndex(applyChanges(parseIndex(text), [{ kind: 'upsert', entry }], new Date(AT)).index);
  }

  /** helm's add; MustAdd refuses a nil entries map, so then the same index with an empty one. */
  function referenceAdd(input: { path: string; text: string }): Outcome {
    const added = reference(['add', input.path, chartFile, BASE_URL, AT]);
    if (added.kind === 'written' || !added.reason.includes('entries not initialized')) return added;
    const withMap = join(work, 'with-entries-map.yaml');
    writeFileSync(withMap, serializeIndex({ ...parseIndex(input.text), entries: {}, entriesNil: undefined }));
    return reference(['add', withMap, chartFile, BASE_URL, AT]);
  }

  it('adds a chart to each as MustAdd and SortEntries do, on the whole-file path', () => {
    for (const input of inputs) {
      expectSame(
        ours(() => addWhole(input.text)),
        referenceAdd(input),
      );
    }
  });

  describe('through S3, as an incremental update', () => {
    let moto: MotoServer;
    let s3: S3Client;
    const bucket = 'helm-reference';

    beforeAll(async () => {
      moto = await startMotoServer();
      s3 = new S3Client({
        region: 'us-east-1',
        endpoint: moto.endpoint,
        credentials: EMULATOR_CREDENTIALS,
        forcePathStyle: true,
      });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    afterAll(async () => {
      s3?.destroy();
      await moto?.stop();
    });

    /** Stores `body` (stamped as this indexer's own output, or not), adds the chart with updateIndex. */
    async function addThroughStore(key: string, body: string, stamped: boolean) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ...(stamped ? { Metadata: writtenIndexMetadata(body) } : {}),
        }),
      );
      let focused = false;
      const entry = chartEntry(archive, `${BASE_URL}/reference-added-0.1.0.tgz`, AT);
      const outcome = await updateIndex(
        s3,
        { bucket, key },
        async (current) => {
          if (current.state === 'unreadable') throw current.error;
          focused ||= current.state === 'readable' && current.partial !== undefined;
          const base: IndexFile =
            current.state === 'readable' ? current.index : parseIndex('apiVersion: v1\nentries: {}\n');
          return applyChanges(base, [{ kind: 'upsert', entry }], new Date(AT)).index;
        },
        { maxAttempts: 1, focus: () => ({ names: [entry.name], urls: entry.urls ?? [] }) },
      );
      const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { outcome, focused, text: (await stored.Body?.transformToString('utf8')) ?? '' };
    }

    it("adds the chart to helm's own output of each, stamped, by the focused path, as helm would", async () => {
      let focusedCount = 0;
      for (const [n, input] of inputs.entries()) {
        const written = reference(['roundtrip', input.path]);
        if (written.kind === 'refused') continue;
        const helmFile = join(work, `helm-output-${n}.yaml`);
        writeFileSync(helmFile, written.text);

        const result = await addThroughStore(`focused/${n}/index.yaml`, written.text, true);

        expectSame(
          { kind: 'written', text: result.text },
          referenceAdd({ path: helmFile, text: written.text }),
        );
        if (splitIndexLayout(written.text)) {
          expect({ input: input.name, focused: result.focused }).toEqual({
            input: input.name,
            focused: true,
          });
          focusedCount++;
        }
      }
      expect(focusedCount).toBeGreaterThanOrEqual(15);
    });

    it('adds the chart to each file as found (unstamped) by the whole-file path, or refuses as helm does', async () => {
      for (const [n, input] of inputs.entries()) {
        const expected = referenceAdd(input);
        const key = `whole/${n}/index.yaml`;
        const result = await addThroughStore(key, input.text, false).then(
          (added): Outcome => ({ kind: 'written', text: added.text }),
          (error: unknown): Outcome => {
            if (!(error instanceof IndexFormatError)) throw error;
            return { kind: 'refused', reason: error.message };
          },
        );
        expectSame(result, expected);
      }
    });
  });
});
