import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { IndexFormat } from '../../lib/helm/config';
import { applyChanges, emptyIndex, parseIndex, serializeIndex } from '../../lib/helm/repo/index-file';
import { serializeIndexJson } from '../../lib/helm/repo/index-json';
import { MEMORY_PER_INDEX_BYTE, maxIndexBytes, type UpdatePath } from '../../lib/helm/store/index-budget';
import { writtenIndexMetadata } from '../../lib/helm/store/index-store';
import type { ChartVersionEntry } from '../../lib/helm/types';
import { mapWithConcurrency } from '../../lib/util/concurrency';
import { EMULATOR_CREDENTIALS, startMotoServer } from '../../test/support/moto-server';
import { type ChartSpec, chartArchive, chartFileName, chartSpecs } from '../chart-factory';
import { type MemoryUsage, runChild } from '../child';
import { type HelmRun, runHelm } from './helm';
import type { IncrementalInput, IncrementalResult, UpdateBreakdown } from './incremental';
import type { RebuildInput, RebuildResult } from './rebuild';

export interface IndexerBenchOptions {
  /** Chart versions in the index. */
  sizes: number[];
  /** Sizes whose charts are all uploaded to the emulator and rebuilt from a listing. */
  rebuildSizes: number[];
  /** Incremental update of an index of `indexSize` versions in a bucket holding `bucketSize` charts. */
  bucketGrowth?: { indexSize: number; bucketSize: number };
  /**
   * Index sizes (MB) synthesised for the memory scenario: the same update on the focused path (stamped
   * YAML), the whole-file path (unstamped YAML) and a JSON index, one process each.
   */
  largeIndexMb?: number[];
  /** Incremental updates (and helm merges) per size; medians are reported. */
  repeats: number;
  /** Charts read at once during a rebuild (the indexer's configured concurrency). */
  concurrency: number;
  workDir: string;
  log: (line: string) => void;
  /** A size that crashed: recorded, and the benchmark goes on with the next one. */
  onError: (part: string, error: unknown) => void;
}

export interface IncrementalMeasurement {
  /** First event of a fresh process (first connection, first S3 call): median over repeats. */
  coldMs: number;
  /** Second event of the same process (warm clients): median over repeats. */
  warmMs: number;
  samplesMs: number[][];
  memory: MemoryUsage;
  /** S3 calls per event (the incremental path never lists the bucket). */
  apiCallsPerEvent: Record<string, number>;
  /** Each step of an update timed alone, in one more process (not in the memory figures). */
  breakdown?: UpdateBreakdown;
  /** Size of the stored index this was measured on. */
  indexMb?: number;
}

export interface IndexerSizeResult {
  versions: number;
  indexBytes: number;
  /** Charts in the bucket during the incremental update. */
  bucketCharts: number;
  incremental: IncrementalMeasurement;
  /** The same update with indexFormat json, the stored index being JSON (as `helm repo index --json`). */
  incrementalJson?: IncrementalMeasurement;
  helmMerge: { medianMs: number; samplesMs: number[]; peakRssMb: number };
  helmFull: HelmRun & { chartsPerSecond: number };
  rebuild?: RebuildResult & { chartsPerSecond: number; memory: MemoryUsage };
}

export interface BucketGrowthResult {
  indexVersions: number;
  bucketCharts: number;
  incremental: IncrementalMeasurement;
}

/** Memory of one update of a large index, by the path it takes. */
export interface LargeIndexRun {
  path: UpdatePath | 'json';
  indexBytes: number;
  wallMs: number[];
  memory: MemoryUsage;
  /** Peak RSS above the RSS before the update (runtime, SDK and code loaded), per byte of index. */
  addedPerIndexByte: number;
  /** What the indexer's ceiling check allows on this path at 1,024 MB, and the factor it assumes. */
  ceilingAt1024Mb: number;
  assumedPerIndexByte: number;
}

export interface LargeIndexResult {
  targetMb: number;
  versions: number;
  runs: LargeIndexRun[];
}

export interface IndexerResults {
  sizes: IndexerSizeResult[];
  largeIndex?: LargeIndexResult[];
  bucketGrowth?: BucketGrowthResult;
}

const INCREMENTAL = join(__dirname, 'incremental.ts');
const REBUILD = join(__dirname, 'rebuild.ts');
const PREFIX = 'charts/';
const UPLOAD_CONCURRENCY = 16;

export async function runIndexerBench(options: IndexerBenchOptions): Promise<IndexerResults> {
  const uploadSizes = new Set(options.rebuildSizes);
  if (options.bucketGrowth) uploadSizes.add(options.bucketGrowth.bucketSize);
  const sizes = [...new Set([...options.sizes, ...uploadSizes])].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1] ?? 0;

  const pool = join(options.workDir, 'pool');
  mkdirSync(pool, { recursive: true });
  const specs = chartSpecs(largest);
  const generated = performance.now();
  for (const spec of specs) writeFileSync(join(pool, chartFileName(spec)), chartArchive(spec));
  options.log(
    `indexer: ${largest} chart archives generated in ${Math.round(performance.now() - generated)} ms`,
  );

  const moto = await startMotoServer();
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    credentials: EMULATOR_CREDENTIALS,
    forcePathStyle: true,
  });
  const bench = new IndexerBench(options, moto.endpoint, s3, pool, specs);
  try {
    const results: IndexerSizeResult[] = [];
    for (const size of sizes) {
      try {
        const result = await bench.size(size, uploadSizes.has(size));
        if (options.sizes.includes(size)) results.push(result);
      } catch (error) {
        options.onError(`indexer ${size} versions`, error);
      }
    }
    const largeIndex: LargeIndexResult[] = [];
    for (const mb of options.largeIndexMb ?? []) {
      try {
        largeIndex.push(await bench.largeIndex(mb));
      } catch (error) {
        options.onError(`indexer large index ${mb} MB`, error);
      }
    }
    let growth: BucketGrowthResult | undefined;
    try {
      growth = options.bucketGrowth && (await bench.bucketGrowth(options.bucketGrowth));
    } catch (error) {
      options.onError('indexer bucket growth', error);
    }
    return {
      sizes: results,
      ...(largeIndex.length > 0 ? { largeIndex } : {}),
      ...(growth ? { bucketGrowth: growth } : {}),
    };
  } finally {
    s3.destroy();
    await moto.stop();
    rmSync(options.workDir, { recursive: true, force: true });
  }
}

class IndexerBench {
  /** Versions of the new charts, so every incremental update adds a version never seen before. */
  private nextNewVersion = 0;

  constructor(
    private readonly options: IndexerBenchOptions,
    private readonly endpoint: string,
    private readonly s3: S3Client,
    private readonly pool: string,
    private readonly specs: ChartSpec[],
  ) {}

  async size(versions: number, upload: boolean): Promise<IndexerSizeResult> {
    const { log, repeats, workDir } = this.options;
    // helm repo index over a directory of exactly these archives: the full reference, and the old index.
    const repo = join(workDir, `repo-${versions}`);
    mkdirSync(repo, { recursive: true });
    for (const spec of this.specs.slice(0, versions)) {
      linkSync(join(this.pool, chartFileName(spec)), join(repo, chartFileName(spec)));
    }
    const full = await runHelm(['repo', 'index', repo]);
    const indexFile = this.indexPath(versions);
    copyFileSync(join(repo, 'index.yaml'), indexFile);
    rmSync(repo, { recursive: true, force: true });
    const indexBytes = statSync(indexFile).size;
    log(
      `indexer ${versions}: helm repo index (full) ${full.wallMs} ms, index ${(indexBytes / 1e6).toFixed(1)} MB`,
    );

    // helm repo index --merge: how a CI pipeline adds one chart to an existing index.
    const merges: HelmRun[] = [];
    for (let r = 0; r < repeats; r++) {
      const dir = join(workDir, `merge-${versions}-${r}`);
      mkdirSync(dir, { recursive: true });
      const spec = this.newChart();
      writeFileSync(join(dir, chartFileName(spec)), chartArchive(spec));
      merges.push(await runHelm(['repo', 'index', '--merge', indexFile, dir]));
      rmSync(dir, { recursive: true, force: true });
    }
    log(`indexer ${versions}: helm repo index --merge ${merges.map((m) => m.wallMs).join(', ')} ms`);

    const bucket = `bench-index-${versions}`;
    await this.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    if (upload) {
      const uploaded = performance.now();
      await mapWithConcurrency(this.specs.slice(0, versions), UPLOAD_CONCURRENCY, (spec) =>
        this.put(
          bucket,
          `${PREFIX}${chartFileName(spec)}`,
          readFileSync(join(this.pool, chartFileName(spec))),
        ),
      );
      log(
        `indexer ${versions}: ${versions} charts uploaded in ${Math.round(performance.now() - uploaded)} ms`,
      );
    }
    const incremental = await this.incremental(bucket, versions, true);
    log(
      `indexer ${versions}: incremental cold ${incremental.coldMs} ms, warm ${incremental.warmMs} ms, peak RSS ${incremental.memory.peakRssMb} MB`,
    );
    const incrementalJson = await this.incremental(bucket, versions, false, 'json');
    log(
      `indexer ${versions}: incremental (JSON index) cold ${incrementalJson.coldMs} ms, warm ${incrementalJson.warmMs} ms, peak RSS ${incrementalJson.memory.peakRssMb} MB`,
    );

    let rebuild: IndexerSizeResult['rebuild'];
    if (upload) {
      const outcome = await runChild<RebuildInput, RebuildResult>(REBUILD, {
        endpoint: this.endpoint,
        bucket,
        prefix: PREFIX,
        concurrency: this.options.concurrency,
      });
      const { result } = outcome;
      rebuild = {
        ...result,
        chartsPerSecond: perSecond(result.charts, result.wallMs),
        memory: outcome.memory,
      };
      log(
        `indexer ${versions}: rebuild of ${result.charts} charts ${result.wallMs} ms (${rebuild.chartsPerSecond}/s), peak RSS ${outcome.memory.peakRssMb} MB`,
      );
    }
    return {
      versions,
      indexBytes,
      bucketCharts: (upload ? versions : 0) + 2 * (repeats + 1),
      incremental,
      incrementalJson,
      helmMerge: {
        medianMs: median(merges.map((m) => m.wallMs)),
        samplesMs: merges.map((m) => m.wallMs),
        peakRssMb: Math.max(...merges.map((m) => m.peakRssMb)),
      },
      helmFull: { ...full, chartsPerSecond: perSecond(versions, full.wallMs) },
      ...(rebuild ? { rebuild } : {}),
    };
  }

  /** The same incremental update, with an index of `indexSize` versions in a bucket of `bucketSize` charts. */
  async bucketGrowth(growth: { indexSize: number; bucketSize: number }): Promise<BucketGrowthResult> {
    const bucket = `bench-index-${growth.bucketSize}`;
    const incremental = await this.incremental(bucket, growth.indexSize);
    this.options.log(
      `indexer: ${growth.indexSize}-version index in a bucket of ${growth.bucketSize} charts: incremental cold ${incremental.coldMs} ms, warm ${incremental.warmMs} ms`,
    );
    return { indexVersions: growth.indexSize, bucketCharts: growth.bucketSize, incremental };
  }

  /**
   * Puts the `indexVersions`-version index helm wrote into the bucket, then runs `repeats` fresh
   * processes that each handle two "chart created" events.
   */
  private async incremental(
    bucket: string,
    indexVersions: number,
    breakdown = false,
    indexFormat: IndexFormat = 'yaml',
  ): Promise<IncrementalMeasurement> {
    // The steady state: stamped as this indexer stamps its own writes (helm's bytes here are the ones it
    // would write), so updates take the focused path. An unstamped index costs one whole-file update.
    // The JSON form is what `helm repo index --json` writes for the same index (byte-equal, per the tests).
    const yamlText = readFileSync(this.indexPath(indexVersions), 'utf8');
    const indexText = indexFormat === 'json' ? serializeIndexJson(parseIndex(yamlText)) : yamlText;
    await this.put(
      bucket,
      `${PREFIX}index.yaml`,
      Buffer.from(indexText, 'utf8'),
      writtenIndexMetadata(indexText),
    );
    const samples: number[][] = [];
    const memories: MemoryUsage[] = [];
    let apiCalls: Record<string, number> = {};
    for (let r = 0; r < this.options.repeats; r++) {
      const outcome = await this.incrementalChild(bucket, false, indexFormat);
      samples.push(outcome.result.wallMs);
      memories.push(outcome.memory);
      apiCalls = outcome.result.apiCalls;
    }
    const steps = breakdown
      ? (await this.incrementalChild(bucket, true, indexFormat)).result.breakdown
      : undefined;
    return {
      coldMs: median(samples.map((sample) => sample[0] ?? Number.NaN)),
      warmMs: median(samples.map((sample) => sample[1] ?? Number.NaN)),
      samplesMs: samples,
      memory: {
        peakRssMb: Math.max(...memories.map((memory) => memory.peakRssMb)),
        baselineRssMb: median(memories.map((memory) => memory.baselineRssMb)),
        peakHeapMb: Math.max(...memories.map((memory) => memory.peakHeapMb)),
      },
      apiCallsPerEvent: Object.fromEntries(Object.entries(apiCalls).map(([key, count]) => [key, count / 2])),
      indexMb: Number((Buffer.byteLength(indexText) / 1e6).toFixed(1)),
      ...(steps ? { breakdown: steps } : {}),
    };
  }

  /**
   * An index of about `mb` MB (entries as helm writes them for the factory's charts, no archives behind
   * them), updated by two events in a fresh process on each path. Memory is what matters here.
   */
  async largeIndex(mb: number): Promise<LargeIndexResult> {
    const bucket = `bench-large-${mb}`;
    await this.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const sample = Buffer.byteLength(serializeIndex(syntheticIndex(1000)));
    const versions = Math.max(1, Math.round((mb * 1e6 * 1000) / sample));
    const yaml = serializeIndex(syntheticIndex(versions));
    this.options.log(
      `indexer large index: ${versions} versions, ${(Buffer.byteLength(yaml) / 1e6).toFixed(1)} MB`,
    );
    const runs: LargeIndexRun[] = [];
    for (const path of ['focused', 'whole', 'json'] as const) {
      const text = path === 'json' ? serializeIndexJson(parseIndex(yaml)) : yaml;
      const body = Buffer.from(text, 'utf8');
      await this.put(
        bucket,
        `${PREFIX}index.yaml`,
        body,
        path === 'whole' ? undefined : writtenIndexMetadata(body),
      );
      const outcome = await this.incrementalChild(bucket, false, path === 'json' ? 'json' : 'yaml');
      const { memory } = outcome;
      const addedBytes = (memory.peakRssMb - memory.baselineRssMb) * 1024 * 1024;
      const budgetPath: UpdatePath = path === 'focused' ? 'focused' : 'whole';
      runs.push({
        path,
        indexBytes: body.length,
        wallMs: outcome.result.wallMs,
        memory,
        addedPerIndexByte: Math.round((addedBytes / body.length) * 100) / 100,
        ceilingAt1024Mb: maxIndexBytes(1024, budgetPath),
        assumedPerIndexByte: MEMORY_PER_INDEX_BYTE[budgetPath],
      });
      this.options.log(
        `indexer large index (${path}): ${outcome.result.wallMs.join(', ')} ms, peak RSS ${memory.peakRssMb} MB (baseline ${memory.baselineRssMb} MB)`,
      );
    }
    return { targetMb: mb, versions, runs };
  }

  /** Uploads two new charts and runs a fresh process that handles one event for each. */
  private async incrementalChild(bucket: string, breakdown: boolean, indexFormat: IndexFormat) {
    const keys: IncrementalInput['keys'] = [];
    for (let event = 0; event < 2; event++) {
      const spec = this.newChart();
      const body = chartArchive(spec);
      const key = `${PREFIX}${chartFileName(spec)}`;
      const etag = await this.put(bucket, key, body);
      keys.push({ key, size: body.length, etag });
    }
    return runChild<IncrementalInput, IncrementalResult>(INCREMENTAL, {
      endpoint: this.endpoint,
      bucket,
      prefix: PREFIX,
      keys,
      breakdown,
      indexFormat,
    });
  }

  private newChart(): ChartSpec {
    const n = this.nextNewVersion++;
    return { name: 'chart-00000', version: `2.${Math.floor(n / 100)}.${n % 100}` };
  }

  private indexPath(versions: number): string {
    return join(this.options.workDir, `index-${versions}.yaml`);
  }

  private async put(
    bucket: string,
    key: string,
    body: Buffer,
    metadata?: Record<string, string>,
  ): Promise<string> {
    const response = await this.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ...(metadata ? { Metadata: metadata } : {}),
      }),
    );
    return response.ETag ?? '';
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  if (sorted.length % 2 === 1) return sorted[middle] as number;
  return Math.round(((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2);
}

function perSecond(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

/** An index of `versions` entries for the factory's charts, as helm would write it for their archives. */
function syntheticIndex(versions: number) {
  const created = new Date('2026-01-01T00:00:00Z');
  const changes = chartSpecs(versions).map((spec) => {
    const entry: ChartVersionEntry = {
      apiVersion: 'v2',
      appVersion: spec.version,
      created: '2026-01-01T00:00:00Z',
      description: `Benchmark chart ${spec.name}`,
      digest: createHash('sha256').update(`${spec.name}-${spec.version}`).digest('hex'),
      name: spec.name,
      type: 'application',
      urls: [chartFileName(spec)],
      version: spec.version,
    };
    return { kind: 'upsert' as const, entry };
  });
  return applyChanges(emptyIndex(created), changes, created).index;
}
