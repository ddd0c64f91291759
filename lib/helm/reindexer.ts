import type { S3Client } from '@aws-sdk/client-s3';
import { IrsaReconcilerError } from '../errors';
import type { Logger } from '../observability/logger';
import type { MetricsSink } from '../observability/metrics';
import { mapWithConcurrency } from '../util/concurrency';
import { type ChartReadLimits, DEFAULT_CHART_READ_LIMITS } from './chart/chart';
import type { IndexerConfig } from './config';
import type { OciPublisher } from './oci/publisher';
import { diffIndexes, type IndexDiff, sameContent } from './repo/index-diff';
import {
  applyChanges,
  chartEntry,
  chartUrl,
  emptyIndex,
  firstUrl,
  type ResolvedChange,
} from './repo/index-file';
import type { IndexFocus } from './repo/index-layout';
import { type ChartKeyNotice, type IgnoredRecord, parseS3Event, selectChartKeys } from './s3-events';
import {
  type ChartObservation,
  headChart,
  type ListedChart,
  listCharts,
  readChart,
  readChartBytes,
  UNSAFE_KEY_REASON,
} from './store/chart-store';
import {
  backupIndex,
  type ConditionalWriteOptions,
  type IndexLocation,
  type StoredIndex,
  updateIndex,
  writeIndexText,
} from './store/index-store';
import type { ChartVersionEntry, IndexFile } from './types';

/**
 * Keeps index.yaml equal to the charts in the bucket. Level-based: an event only names keys; each key
 * is looked at as it is now (a "created" key that is gone is removed, a "removed" key that is back is
 * indexed), the index is changed in one conditional write, and the keys are looked at again after the
 * write so that a chart replaced or deleted while we worked is not left stale.
 */

export interface ReindexDeps {
  s3: S3Client;
  config: IndexerConfig;
  logger: Logger;
  metrics?: MetricsSink;
  readLimits?: ChartReadLimits;
  now?: () => Date;
  /** Time left in the invocation (Lambda's getRemainingTimeInMillis): bounds the write attempts. */
  timeLeftMs?: () => number;
  /** The function's memory (Lambda's memoryLimitInMB): an index too large for it is refused up front. */
  memoryMb?: number;
  /** Pushes every indexed chart to an OCI registry too (config.oci); absent: no OCI publishing. */
  oci?: OciPublisher;
  /** Backoff jitter source and sleep, injectable for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface InvalidChart {
  key: string;
  reason: string;
}

export interface IncrementalSummary {
  mode: 'incremental';
  outcome: 'none' | 'created' | 'updated';
  /** Keys found present and indexed (or already indexed with the same digest). */
  indexed: string[];
  /** Keys found absent: their entries are dropped. */
  removed: string[];
  invalid: InvalidChart[];
  ignored: IgnoredRecord[];
  /** The index did not exist: it was built from a listing of the prefix. */
  bootstrapped: boolean;
  writes: number;
  /** Of those writes, the ones whose answer was lost and that reading the index back showed landed. */
  writesConfirmedByReadBack?: number;
  conflicts: number;
  durationMs: number;
  /** With OCI publishing: the references pushed, already there, and untagged. */
  oci?: { pushed: string[]; unchanged: string[]; untagged: string[] };
}

export interface RebuildOptions {
  /** Replace an unreadable index (after copying it to `<indexKey>.bak-<timestamp>`). */
  force?: boolean;
  /** Compute the index and the difference, write nothing. */
  dryRun?: boolean;
}

export interface RebuildSummary {
  mode: 'rebuild';
  outcome: 'none' | 'created' | 'updated' | 'planned';
  /** Chart versions in the rebuilt index. */
  charts: number;
  invalid: InvalidChart[];
  /** Archives left out because another key holds the same name and version. */
  duplicates: InvalidChart[];
  changes: IndexDiff;
  backupKey?: string;
  /** The write's answer was lost; reading the index back showed it landed. */
  confirmedByReadBack?: boolean;
  conflicts: number;
  durationMs: number;
  /** The index text, in a dry run. */
  index?: string;
}

/** Rounds of "write, then look again" before giving up on keys that keep changing. */
const MAX_SETTLE_ROUNDS = 3;

type Observation = ChartObservation;

/** One invocation: injected dependencies with defaults, and the invalid charts seen so far. */
class Run {
  readonly logger: Logger;
  readonly now: () => Date;
  readonly location: IndexLocation;
  readonly invalid = new Map<string, string>();
  readonly started: number;
  /** The versions at each removed URL, as the last decision saw them (to untag them in the registry). */
  readonly removedVersions = new Map<string, Array<{ name: string; version: string }>>();

  constructor(readonly deps: ReindexDeps) {
    this.logger = deps.logger;
    this.now = deps.now ?? (() => new Date());
    this.location = { bucket: deps.config.bucket, key: deps.config.indexKey };
    this.started = this.now().getTime();
  }

  writeOptions(): ConditionalWriteOptions {
    const { maxAttempts } = this.deps.config;
    return {
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
      ...(this.deps.timeLeftMs ? { timeLeftMs: this.deps.timeLeftMs } : {}),
      ...(this.deps.memoryMb === undefined ? {} : { memoryMb: this.deps.memoryMb }),
      logger: this.logger,
      format: this.deps.config.indexFormat,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
    };
  }

  url(key: string): string {
    const { indexKey, baseUrl } = this.deps.config;
    return chartUrl(key, baseUrl === undefined ? { indexKey } : { indexKey, baseUrl });
  }

  /** The chart at `key` now; an invalid one is reported (logged, counted) once. */
  async observe(key: string): Promise<Observation> {
    const limits = this.deps.readLimits ?? DEFAULT_CHART_READ_LIMITS;
    const observation = await readChart(
      this.deps.s3,
      { bucket: this.deps.config.bucket, key },
      limits,
      this.now,
    );
    if (observation.state === 'invalid') this.reportInvalid(key, observation.reason);
    return observation;
  }

  /** The current ETag, or undefined when the key is absent. */
  head(key: string): Promise<string | undefined> {
    return headChart(this.deps.s3, { bucket: this.deps.config.bucket, key });
  }

  reportInvalid(key: string, reason: string): void {
    if (this.invalid.has(key)) return;
    this.invalid.set(key, reason);
    this.logger.error('chart left out of the index', { key, reason });
  }

  /** By key, so reports do not depend on which read finished first. */
  invalidCharts(): InvalidChart[] {
    return [...this.invalid]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, reason]) => ({ key, reason }));
  }

  finish(conflicts: number): number {
    if (this.invalid.size > 0) this.deps.metrics?.count('InvalidCharts', this.invalid.size);
    if (conflicts > 0) this.deps.metrics?.count('IndexWriteConflicts', conflicts);
    return this.now().getTime() - this.started;
  }
}

/** Applies one S3 notification event (any number of records) to the index in one write. */
export async function handleS3Event(deps: ReindexDeps, event: unknown): Promise<IncrementalSummary> {
  const run = new Run(deps);
  const records = parseS3Event(event);
  const { notices, ignored } = selectChartKeys(records, deps.config);
  for (const record of ignored) {
    if (record.reason === UNSAFE_KEY_REASON) run.logger.warn('chart key ignored', { ...record });
    else run.logger.debug('record ignored', { ...record });
  }
  const summary: IncrementalSummary = {
    mode: 'incremental',
    outcome: 'none',
    indexed: [],
    removed: [],
    invalid: [],
    ignored,
    bootstrapped: false,
    writes: 0,
    conflicts: 0,
    durationMs: 0,
  };
  if (notices.length === 0) {
    summary.durationMs = run.finish(0);
    return summary;
  }

  // Charts are read once here, not per write attempt; only keys that change again are re-read.
  const observations = new Map<string, Observation>();
  const observed = await mapWithConcurrency(notices, deps.config.concurrency, (notice) =>
    observeNotice(run, notice),
  );
  for (const observation of observed) observations.set(observation.key, observation);
  const bucketState = new BucketState(run);

  for (let round = 1; ; round++) {
    const result = await updateIndex(
      deps.s3,
      run.location,
      async (current) => {
        if (current.state === 'unreadable') throw current.error;
        if (current.state === 'absent') {
          summary.bootstrapped = true;
          bucketState.seed(observations.values());
          const built = await bucketState.build(undefined);
          return Object.keys(built.index.entries).length > 0 ? built.index : undefined;
        }
        return applyObservations(run, current.index, [...observations.values()]);
      },
      { ...run.writeOptions(), focus: () => focusOf(run, [...observations.values()]) },
    );
    summary.conflicts += result.conflicts;
    if (result.outcome !== 'none') {
      summary.writes++;
      if (result.confirmedByReadBack)
        summary.writesConfirmedByReadBack = (summary.writesConfirmedByReadBack ?? 0) + 1;
      summary.outcome = summary.outcome === 'created' ? 'created' : result.outcome;
    }
    if (result.outcome === 'none') break;
    const moved = await changedSinceObserved(run, [...observations.values()]);
    if (moved.length === 0) break;
    if (round === MAX_SETTLE_ROUNDS) {
      throw new IrsaReconcilerError(
        `charts kept changing while the index was written (${moved.join(', ')}); retry the event`,
        { retryable: true },
      );
    }
    run.logger.info('charts changed while the index was written; applying their new state', { keys: moved });
    for (const observation of await mapWithConcurrency(moved, deps.config.concurrency, (key) =>
      run.observe(key),
    )) {
      observations.set(observation.key, observation);
    }
  }

  for (const observation of observations.values()) {
    if (observation.state === 'present') summary.indexed.push(observation.key);
    if (observation.state === 'absent') summary.removed.push(observation.key);
  }
  if (deps.oci) summary.oci = await publishToOci(run, deps.oci, [...observations.values()]);
  summary.invalid = run.invalidCharts();
  summary.durationMs = run.finish(summary.conflicts);
  run.logger.info('index update finished', { ...summary, ignored: ignored.length });
  return summary;
}

/**
 * After the index: each present chart pushed to the OCI registry (a push of what is there already is
 * skipped there), and the versions whose last key was deleted untagged when configured. A failure
 * fails the event (the index write is then a no-op on the retry, the push is done again).
 */
async function publishToOci(
  run: Run,
  oci: OciPublisher,
  observations: Observation[],
): Promise<NonNullable<IncrementalSummary['oci']>> {
  const result: NonNullable<IncrementalSummary['oci']> = { pushed: [], unchanged: [], untagged: [] };
  const kept = new Set<string>();
  for (const observation of observations) {
    if (observation.state !== 'present') continue;
    const { name, version } = observation.archive.metadata;
    kept.add(`${name}@${version}`);
    const archive = await readChartBytes(
      run.deps.s3,
      { bucket: run.deps.config.bucket, key: observation.key },
      observation.etag,
    );
    if (archive === undefined) continue;
    const { reference, outcome } = await oci.publish({
      archive,
      metadata: observation.archive.metadata,
      created: observation.lastModified,
    });
    (outcome === 'pushed' ? result.pushed : result.unchanged).push(reference);
  }
  if (run.deps.config.oci?.deleteTags ?? true) {
    for (const removed of run.removedVersions.values()) {
      for (const { name, version } of removed) {
        if (kept.has(`${name}@${version}`)) continue;
        const { reference, outcome } = await oci.remove({ name, version });
        if (outcome === 'deleted') result.untagged.push(reference);
      }
    }
  }
  if (result.pushed.length + result.untagged.length > 0)
    run.logger.info('OCI registry updated', { ...result });
  return result;
}

/** A removed record is believed only if the object is really gone; a created one is read (404 = gone). */
async function observeNotice(run: Run, notice: ChartKeyNotice): Promise<Observation> {
  if (notice.kind === 'removed') {
    const etag = await run.head(notice.key);
    if (etag === undefined) return { state: 'absent', key: notice.key };
    run.logger.info('object of a remove event exists again; indexing its current content', {
      key: notice.key,
      eventName: notice.eventName,
    });
  }
  return run.observe(notice.key);
}

/** Keys whose object is no longer what was written into the index. */
async function changedSinceObserved(run: Run, observations: Observation[]): Promise<string[]> {
  const checked = await mapWithConcurrency(
    observations.filter((observation) => observation.state !== 'invalid'),
    run.deps.config.concurrency,
    async (observation) => {
      const etag = await run.head(observation.key);
      const same = observation.state === 'present' ? etag === observation.etag : etag === undefined;
      return same ? undefined : observation.key;
    },
  );
  return checked.filter((key): key is string => key !== undefined);
}

/** The index with the observed keys applied, or undefined when it already says all of it. */
function applyObservations(run: Run, index: IndexFile, observations: Observation[]): IndexFile | undefined {
  const changes: ResolvedChange[] = [];
  run.removedVersions.clear();
  for (const observation of observations) {
    if (observation.state === 'invalid') continue;
    const url = run.url(observation.key);
    if (observation.state === 'absent') {
      run.removedVersions.set(
        url,
        entriesAt(index, url).map((entry) => ({ name: entry.name, version: entry.version })),
      );
      changes.push({ kind: 'remove', url });
      continue;
    }
    const { name, version } = observation.archive.metadata;
    const atUrl = entriesAt(index, url);
    // The key used to hold another chart version: that entry goes, the new one comes.
    if (atUrl.some((entry) => entry.name !== name || entry.version !== version)) {
      changes.push({ kind: 'remove', url });
    }
    const sameVersion = index.entries[name]?.find((entry) => entry.version === version);
    if (sameVersion && firstUrl(sameVersion) !== url) {
      run.logger.warn('chart version published under another key replaces the indexed one', {
        key: observation.key,
        chart: `${name}@${version}`,
        previousUrl: firstUrl(sameVersion),
      });
    }
    changes.push({
      kind: 'upsert',
      entry: chartEntry(observation.archive, url, observation.lastModified),
    });
  }
  const result = applyChanges(index, changes, run.now());
  return result.changed ? result.index : undefined;
}

/** The chart names and URLs applyObservations may change: all it needs to see of the index. */
function focusOf(run: Run, observations: Observation[]): IndexFocus {
  const names: string[] = [];
  const urls: string[] = [];
  for (const observation of observations) {
    if (observation.state === 'invalid') continue;
    urls.push(run.url(observation.key));
    if (observation.state === 'present') names.push(observation.archive.metadata.name);
  }
  return { names, urls };
}

function entriesAt(index: IndexFile, url: string): ChartVersionEntry[] {
  return Object.values(index.entries).flatMap((versions) =>
    (versions ?? []).filter((entry) => firstUrl(entry) === url),
  );
}

/**
 * The charts under the prefix, read with bounded concurrency and cached by key and ETag, so a retried
 * build only reads what changed since the last listing.
 */
class BucketState {
  private readonly cache = new Map<string, Observation & { state: 'present' | 'invalid' }>();
  duplicates: InvalidChart[] = [];
  charts = 0;

  constructor(private readonly run: Run) {}

  seed(observations: Iterable<Observation>): void {
    for (const observation of observations) {
      if (observation.state !== 'absent') this.cache.set(observation.key, observation);
    }
  }

  async list(): Promise<ListedChart[]> {
    const { charts, ignored } = await listCharts(this.run.deps.s3, this.run.deps.config);
    for (const item of ignored) this.run.logger.warn('chart key ignored', { ...item });
    return charts;
  }

  /** A fresh index of every chart listed now; `created` is kept for entries already indexed with the same digest. */
  async build(previous: IndexFile | undefined): Promise<{ index: IndexFile }> {
    const run = this.run;
    const listed = await this.list();
    const observations = await mapWithConcurrency(listed, run.deps.config.concurrency, async (item) => {
      const cached = this.cache.get(item.key);
      if (cached && cached.etag === item.etag) return cached;
      const observation = await run.observe(item.key);
      if (observation.state !== 'absent') this.cache.set(item.key, observation);
      return observation;
    });
    const created = new Map<string, string>();
    for (const versions of Object.values(previous?.entries ?? {})) {
      for (const entry of versions ?? [])
        created.set(versionKey(entry.name, entry.version, entry.digest), entry.created);
    }
    const seen = new Map<string, string>();
    const changes: ResolvedChange[] = [];
    this.duplicates = [];
    for (const observation of observations) {
      if (observation.state !== 'present') continue;
      const { name, version } = observation.archive.metadata;
      const holder = seen.get(`${name}@${version}`);
      if (holder !== undefined) {
        const reason = `${name}@${version} is already published as ${holder}`;
        this.duplicates.push({ key: observation.key, reason });
        run.logger.warn('duplicate chart version left out of the index', { key: observation.key, reason });
        continue;
      }
      seen.set(`${name}@${version}`, observation.key);
      const since =
        created.get(versionKey(name, version, observation.archive.digest)) ?? observation.lastModified;
      changes.push({
        kind: 'upsert',
        entry: chartEntry(observation.archive, run.url(observation.key), since),
      });
    }
    this.charts = changes.length;
    const fresh = applyChanges(emptyIndex(run.now()), changes, run.now()).index;
    return {
      index: {
        ...fresh,
        ...(previous?.serverInfo ? { serverInfo: previous.serverInfo } : {}),
        ...(previous?.annotations ? { annotations: previous.annotations } : {}),
      },
    };
  }
}

function versionKey(name: string, version: string, digest: string): string {
  return `${name}\u0000${version}\u0000${digest}`;
}

/**
 * Lists the prefix and rebuilds the index from every chart. Refuses to replace an unreadable index
 * unless forced (and then keeps a backup copy); writes nothing when the result equals the index.
 */
export async function rebuildIndex(deps: ReindexDeps, options: RebuildOptions = {}): Promise<RebuildSummary> {
  const run = new Run(deps);
  const state = new BucketState(run);
  const backedUp = new Set<string>();
  let backupKey: string | undefined;
  let planned: { index: IndexFile; changes: IndexDiff } | undefined;
  let changes: IndexDiff = { added: [], removed: [], changed: [] };

  const result = await updateIndex(
    deps.s3,
    run.location,
    async (current: StoredIndex) => {
      if (current.state === 'unreadable') {
        if (!options.force) {
          throw current.error;
        }
        if (!options.dryRun && !backedUp.has(current.etag)) {
          backupKey = await backupIndex(deps.s3, run.location, run.now());
          backedUp.add(current.etag);
          run.logger.warn('unreadable index backed up before it is replaced', { backupKey });
        }
      }
      const previous = current.state === 'readable' ? current.index : undefined;
      const { index } = await state.build(previous);
      changes = diffIndexes(previous, index);
      const unchanged = current.state === 'readable' && sameContent(current.index, index);
      if (options.dryRun) {
        planned = { index, changes };
        return undefined;
      }
      return unchanged ? undefined : index;
    },
    run.writeOptions(),
  );

  const summary: RebuildSummary = {
    mode: 'rebuild',
    outcome: options.dryRun ? 'planned' : result.outcome,
    charts: state.charts,
    invalid: run.invalidCharts(),
    duplicates: state.duplicates,
    changes,
    ...(backupKey ? { backupKey } : {}),
    ...(result.confirmedByReadBack ? { confirmedByReadBack: true } : {}),
    conflicts: result.conflicts,
    durationMs: run.finish(result.conflicts),
    ...(planned ? { index: writeIndexText(planned.index, deps.config.indexFormat) } : {}),
  };
  run.logger.info('index rebuild finished', { ...summary, index: undefined });
  return summary;
}
