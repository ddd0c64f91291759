/**
 * index.yaml as Helm reads and writes it (helm.sh/helm/v3 pkg/repo/index.go): loading (JSON or strict
 * YAML, invalid entries dropped, missing apiVersion an error), entries (the chart metadata plus urls,
 * created and digest), ordering (SemVer descending), and the exact YAML Helm writes.
 */
import { IndexFormatError, MetadataDecodeError, YamlSyntaxError } from '../../errors';
import type { ChartArchive, ChartVersionEntry, IndexFile } from '../types';
import { parseEmittedYaml } from '../yaml/fast-yaml';
import { formatHelmTime, GO_ZERO_TIME, normalizeGoTime } from '../yaml/go-time';
import { emitGoYaml, type GoValue } from '../yaml/go-yaml';
import { parseGoYaml, type YamlValue } from '../yaml/go-yaml-parse';
import { type DecodedStruct, decodeIndexEntry, toInterface, validateMetadata } from './metadata';
import { compareSemverDescending, compareVersionsDescending } from './semver';

export { formatHelmTime } from '../yaml/go-time';

export type ResolvedChange = { kind: 'upsert'; entry: ChartVersionEntry } | { kind: 'remove'; url: string };

/** An entry of an existing index that Helm would skip when loading it, and why. */
export interface DroppedEntry {
  chart: string;
  version?: string;
  reason: string;
}

export function emptyIndex(now: Date): IndexFile {
  return { apiVersion: 'v1', entries: {}, generated: formatHelmTime(now) };
}

/** The index entry `helm repo index` writes for an archive: its metadata plus urls, created and digest. */
export function chartEntry(archive: ChartArchive, url: string, created: Date | string): ChartVersionEntry {
  const time = typeof created === 'string' ? normalizeGoTime(created) : formatHelmTime(created);
  if (time === undefined) throw new RangeError(`created is not an RFC 3339 time: ${String(created)}`);
  return { ...structuredClone(archive.metadata), urls: [url], created: time, digest: archive.digest };
}

/**
 * Applies upserts and removals. An upsert replaces the entry with the same name and version, and any
 * entry that pointed at the same URL (the object was overwritten with another chart); an identical
 * entry (same digest and URLs) is left alone. A removal drops every entry whose first URL is the given
 * one, and a chart name left without versions. `generated` changes only when something else did.
 * The input index is not modified. Cost: O(entries) once plus O(1) per change and a sort of each
 * chart name touched, so a full rebuild of tens of thousands of versions is one call.
 */
export function applyChanges(
  index: IndexFile,
  changes: ResolvedChange[],
  now: Date,
): { index: IndexFile; changed: boolean } {
  const working = new WorkingIndex(index);
  for (const change of changes) {
    if (change.kind === 'remove') working.removeUrl(change.url);
    else working.upsert(change.entry);
  }
  if (!working.changed) return { index, changed: false };
  return { index: { ...index, entries: working.entries(), generated: formatHelmTime(now) }, changed: true };
}

/** Copy-on-write view of an index's entries, with the lookups applyChanges needs. */
class WorkingIndex {
  changed = false;
  /** Chart names touched so far: version → entries (a loaded index may hold a version twice). */
  private readonly touched = new Map<string, Map<string, ChartVersionEntry[]>>();
  /** Entries added and entries dropped, to rebuild each touched list from its sorted original. */
  private readonly added = new Set<ChartVersionEntry>();
  private readonly dropped = new Set<ChartVersionEntry>();
  /** urls[0] → "name\0version" of the entries pointing there; built on first use. */
  private urlIndex: Map<string, Set<string>> | undefined;

  constructor(private readonly index: IndexFile) {}

  upsert(entry: ChartVersionEntry): void {
    const versions = this.versions(entry.name);
    const same = versions.get(entry.version);
    const url = firstUrl(entry);
    if (same?.length === 1 && same[0]?.digest === entry.digest && sameUrls(same[0], entry)) return;
    const key = entryKey(entry.name, entry.version);
    for (const other of [...(this.urls().get(url) ?? [])]) {
      if (other !== key) this.removeFrom(other, url);
    }
    for (const previous of same ?? []) {
      this.unlinkUrl(previous, key);
      this.drop(previous);
    }
    versions.set(entry.version, [entry]);
    this.added.add(entry);
    this.linkUrl(url, key);
    this.changed = true;
  }

  removeUrl(url: string): void {
    for (const key of [...(this.urls().get(url) ?? [])]) this.removeFrom(key, url);
  }

  /**
   * The resulting entries: untouched lists shared with the input; touched ones are their original
   * (sorted) list without the dropped entries, with the added ones inserted in order.
   */
  entries(): IndexFile['entries'] {
    const entries: IndexFile['entries'] = { ...this.index.entries };
    for (const [name, versions] of this.touched) {
      const kept = (this.index.entries[name] ?? []).filter((entry) => !this.dropped.has(entry));
      const additions = [...versions.values()].flat().filter((entry) => this.added.has(entry));
      const list = insertSorted(kept, additions);
      if (list.length === 0) delete entries[name];
      else entries[name] = list;
    }
    return entries;
  }

  private drop(entry: ChartVersionEntry): void {
    if (!this.added.delete(entry)) this.dropped.add(entry);
  }

  private removeFrom(key: string, url: string): void {
    const [name = '', version = ''] = key.split('\0');
    const versions = this.versions(name);
    const list = versions.get(version) ?? [];
    const kept = list.filter((entry) => firstUrl(entry) !== url);
    if (kept.length === list.length) return;
    for (const entry of list) if (firstUrl(entry) === url) this.drop(entry);
    if (kept.length === 0) versions.delete(version);
    else versions.set(version, kept);
    this.urls().get(url)?.delete(key);
    this.changed = true;
  }

  private versions(name: string): Map<string, ChartVersionEntry[]> {
    let versions = this.touched.get(name);
    if (versions === undefined) {
      versions = new Map();
      for (const entry of this.index.entries[name] ?? []) {
        versions.set(entry.version, [...(versions.get(entry.version) ?? []), entry]);
      }
      this.touched.set(name, versions);
    }
    return versions;
  }

  private urls(): Map<string, Set<string>> {
    if (this.urlIndex === undefined) {
      this.urlIndex = new Map();
      for (const [name, versions] of Object.entries(this.index.entries)) {
        for (const entry of versions ?? []) this.linkUrl(firstUrl(entry), entryKey(name, entry.version));
      }
    }
    return this.urlIndex;
  }

  private linkUrl(url: string, key: string): void {
    const urls = this.urls();
    let keys = urls.get(url);
    if (keys === undefined) {
      keys = new Set();
      urls.set(url, keys);
    }
    keys.add(key);
  }

  private unlinkUrl(entry: ChartVersionEntry, key: string): void {
    this.urls().get(firstUrl(entry))?.delete(key);
  }
}

function entryKey(name: string, version: string): string {
  return `${name}\0${version}`;
}

function sameUrls(a: ChartVersionEntry, b: ChartVersionEntry): boolean {
  if (a.urls === null || b.urls === null) return a.urls === b.urls;
  const other = b.urls;
  return a.urls.length === other.length && a.urls.every((url, index) => url === other[index]);
}

/** The URL an entry is fetched from (helm uses the first), '' when it has none. */
export function firstUrl(entry: ChartVersionEntry): string {
  return entry.urls?.[0] ?? '';
}

/**
 * Newest first (Helm's SortEntries), unparsable versions last. Versions equal but for build metadata
 * keep the order in which `helm repo index` reads their archives: by file name (here the URL, which
 * ends in it), where `+` sorts before `.` (`1.0.0+a`, `1.0.0+b`, `1.0.0`); then by version string.
 */
export function sortVersions(versions: ChartVersionEntry[]): ChartVersionEntry[] {
  return [...versions].sort(compareEntries);
}

function compareEntries(a: ChartVersionEntry, b: ChartVersionEntry): number {
  const difference = compareSemverDescending(a.version, b.version);
  if (difference !== 0) return difference;
  const left = firstUrl(a);
  const right = firstUrl(b);
  if (left !== right) return left < right ? -1 : 1;
  return compareVersionsDescending(a.version, b.version);
}

/** Inserts entries into a list already sorted newest first (binary search, stable after equals). */
function insertSorted(sorted: ChartVersionEntry[], additions: ChartVersionEntry[]): ChartVersionEntry[] {
  const isSorted = sorted.every(
    (entry, index) => index === 0 || compareEntries(sorted[index - 1] as ChartVersionEntry, entry) <= 0,
  );
  if (additions.length > 32 || !isSorted) return sortVersions([...sorted, ...additions]);
  const result = [...sorted];
  for (const entry of additions) {
    let low = 0;
    let high = result.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareEntries(result[middle] as ChartVersionEntry, entry) <= 0) low = middle + 1;
      else high = middle;
    }
    result.splice(low, 0, entry);
  }
  return result;
}

// Characters Go's url.PathEscape-style path encoding (shouldEscape with encodePath) leaves alone.
const PATH_SAFE = /^[A-Za-z0-9\-_.~$&+,/:;=@]$/;

/** Escapes a path as Go's net/url does for URL paths (`+` stays `+`, a space becomes %20). */
export function escapeUrlPath(path: string): string {
  let out = '';
  for (const character of path) {
    if (PATH_SAFE.test(character)) out += character;
    else
      for (const byte of Buffer.from(character, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The URL an entry points at for an object key. Relative to the index location by default (works for
 * both HTTPS and the s3:// protocol: Helm resolves it against the repository URL); with `baseUrl`, an
 * absolute URL under it. Escaped as Go's net/url escapes paths, as Helm does when it joins URLs.
 */
export function chartUrl(key: string, options: { indexKey: string; baseUrl?: string }): string {
  const slash = options.indexKey.lastIndexOf('/');
  const indexDir = slash === -1 ? [] : options.indexKey.slice(0, slash).split('/');
  const keyParts = key.split('/');
  let common = 0;
  while (common < indexDir.length && common < keyParts.length - 1 && indexDir[common] === keyParts[common])
    common++;
  const relative = [...indexDir.slice(common).map(() => '..'), ...keyParts.slice(common)].join('/');
  const escaped = escapeUrlPath(relative);
  if (options.baseUrl !== undefined && options.baseUrl !== '') {
    return `${options.baseUrl.replace(/\/+$/, '')}/${escaped}`;
  }
  // As Go's URL.String: a colon in the first segment would read as a scheme.
  const first = escaped.split('/')[0] ?? '';
  return first.includes(':') ? `./${escaped}` : escaped;
}

/** Parses index.yaml (or index.json) as Helm loads it; throws IndexFormatError when Helm would fail. */
export function parseIndex(text: string, onDropped?: (dropped: DroppedEntry) => void): IndexFile {
  if (text.length === 0) throw new IndexFormatError('empty index.yaml file');
  let document: YamlValue;
  let source: 'json' | 'yaml';
  try {
    const json = tryJson(text);
    if (json !== undefined) {
      document = json;
      source = 'json';
    } else {
      document =
        parseEmittedYaml(text) ??
        parseGoYaml(text, { strict: true, maxNodes: Math.max(1_000_000, text.length) });
      source = 'yaml';
    }
  } catch (error) {
    throw new IndexFormatError(`the index is not valid YAML: ${describe(error)}`, { cause: error });
  }
  try {
    return decodeIndex(document, source, onDropped ?? (() => undefined));
  } catch (error) {
    if (error instanceof MetadataDecodeError) {
      throw new IndexFormatError(`the index does not match Helm's format: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function tryJson(text: string): YamlValue | undefined {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[' && first !== '"') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return fromJson(parsed);
}

function fromJson(value: unknown): YamlValue {
  if (value === null) return { kind: 'null' };
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return { kind: 'bool', value };
  if (typeof value === 'number') return { kind: 'float', value };
  if (Array.isArray(value)) return { kind: 'seq', items: value.map(fromJson) };
  return {
    kind: 'map',
    entries: Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fromJson(v)]),
  };
}

const TOP_LEVEL_FIELDS = ['serverInfo', 'apiVersion', 'generated', 'entries', 'publicKeys', 'annotations'];

function decodeIndex(
  document: YamlValue,
  source: 'json' | 'yaml',
  onDropped: (d: DroppedEntry) => void,
): IndexFile {
  if (typeof document === 'string' || document.kind !== 'map')
    throw new IndexFormatError('the index is not a mapping');
  const strict = source === 'yaml';
  let apiVersion = '';
  let generated = GO_ZERO_TIME;
  const entries: Record<string, ChartVersionEntry[]> = {};
  let entriesRead = false;
  const index: Partial<IndexFile> = {};
  for (const [rawKey, value] of document.entries) {
    const key =
      TOP_LEVEL_FIELDS.find((field) => field === rawKey) ??
      TOP_LEVEL_FIELDS.find((f) => f.toLowerCase() === rawKey.toLowerCase());
    if (key === undefined) {
      if (strict) throw new IndexFormatError(`unknown field "${rawKey}" in the index`);
      continue;
    }
    if (typeof value !== 'string' && value.kind === 'null') continue;
    switch (key) {
      case 'apiVersion':
        apiVersion = expectString(value, 'apiVersion');
        break;
      case 'generated': {
        const time = normalizeGoTime(expectString(value, 'generated'));
        if (time === undefined) throw new IndexFormatError('generated is not an RFC 3339 time');
        generated = time;
        break;
      }
      case 'entries':
        decodeEntries(value, source, entries, onDropped);
        entriesRead = true;
        break;
      case 'serverInfo':
        if (typeof value === 'string' || value.kind !== 'map')
          throw new IndexFormatError('serverInfo is not a mapping');
        index.serverInfo = toInterface(value) as Record<string, unknown>;
        break;
      case 'publicKeys':
        if (typeof value === 'string' || value.kind !== 'seq')
          throw new IndexFormatError('publicKeys is not a list');
        index.publicKeys = value.items.map((item) =>
          typeof item !== 'string' && item.kind === 'null' ? '' : expectString(item, 'publicKeys'),
        );
        break;
      case 'annotations':
        if (typeof value === 'string' || value.kind !== 'map')
          throw new IndexFormatError('annotations is not a mapping');
        index.annotations = Object.fromEntries(
          value.entries.map(([k, v]) => [
            k,
            typeof v !== 'string' && v.kind === 'null' ? '' : expectString(v, `annotations.${k}`),
          ]),
        );
        break;
    }
  }
  if (apiVersion === '') throw new IndexFormatError('no API version specified');
  const result: IndexFile = { apiVersion: apiVersion as 'v1', entries, generated };
  if (!entriesRead) result.entriesNil = true;
  if (index.serverInfo !== undefined && Object.keys(index.serverInfo).length > 0)
    result.serverInfo = index.serverInfo;
  if (index.publicKeys !== undefined && index.publicKeys.length > 0) result.publicKeys = index.publicKeys;
  if (index.annotations !== undefined && Object.keys(index.annotations).length > 0)
    result.annotations = index.annotations;
  return result;
}

function decodeEntries(
  value: YamlValue,
  source: 'json' | 'yaml',
  entries: IndexFile['entries'],
  onDropped: (d: DroppedEntry) => void,
): void {
  if (typeof value === 'string' || value.kind !== 'map')
    throw new IndexFormatError('entries is not a mapping');
  for (const [name, list] of value.entries) {
    if (typeof list !== 'string' && list.kind === 'null') {
      entries[name] = null;
      continue;
    }
    if (typeof list === 'string' || list.kind !== 'seq')
      throw new IndexFormatError(`entries.${name} is not a list`);
    const versions: ChartVersionEntry[] = [];
    for (const item of list.items) {
      const decoded: DecodedStruct | null = decodeIndexEntry(item, { source, strict: source === 'yaml' });
      if (decoded === null) {
        onDropped({ chart: name, reason: 'empty entry' });
        continue;
      }
      decoded.apiVersion ??= 'v1';
      const problem = validateMetadata(decoded);
      if (problem !== undefined && !problem.skippableInIndex) {
        const version = typeof decoded.version === 'string' ? decoded.version : undefined;
        onDropped({ chart: name, ...(version === undefined ? {} : { version }), reason: problem.reason });
        continue;
      }
      decoded.urls ??= null;
      decoded.created ??= GO_ZERO_TIME;
      versions.push(decoded as ChartVersionEntry);
    }
    entries[name] = sortVersions(versions);
  }
}

function expectString(value: YamlValue, where: string): string {
  if (typeof value === 'string') return value;
  throw new IndexFormatError(`${where} is not a string`);
}

/** Go's nil entries map: read as absent or null, and still without entries. */
export function isNilEntries(index: IndexFile): boolean {
  return index.entriesNil === true && Object.keys(index.entries).length === 0;
}

/** The index as `helm repo index` writes it: Go's JSON field set, keys sorted, yaml.v2 formatting. */
export function serializeIndex(index: IndexFile): string {
  const entries: Record<string, GoValue> = {};
  for (const [name, versions] of Object.entries(index.entries))
    entries[name] = versions === null ? null : versions.map(withoutEmptyFields);
  const document: Record<string, GoValue> = {
    apiVersion: index.apiVersion,
    entries: isNilEntries(index) ? null : entries,
    generated: index.generated,
  };
  if (index.serverInfo !== undefined && Object.keys(index.serverInfo).length > 0) {
    document.serverInfo = index.serverInfo as GoValue;
  }
  if (index.publicKeys !== undefined && index.publicKeys.length > 0) document.publicKeys = index.publicKeys;
  if (index.annotations !== undefined && Object.keys(index.annotations).length > 0) {
    document.annotations = index.annotations;
  }
  return emitGoYaml(document);
}

/** Fields Go writes even when empty (no `omitempty`). */
const ALWAYS_WRITTEN = new Set(['urls', 'created']);

/** An entry as Go's JSON encoding sees it: empty strings, false, empty lists and maps left out. */
function withoutEmptyFields(entry: ChartVersionEntry): GoValue {
  const fields = entry as unknown as Record<string, GoValue | undefined>;
  const isEmpty = (key: string, value: GoValue | undefined): boolean =>
    !ALWAYS_WRITTEN.has(key) &&
    (value === undefined ||
      value === null ||
      value === '' ||
      value === false ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length === 0));
  if (!Object.entries(fields).some(([key, value]) => isEmpty(key, value))) return fields as GoValue;
  return Object.fromEntries(Object.entries(fields).filter(([key, value]) => !isEmpty(key, value))) as GoValue;
}

function describe(error: unknown): string {
  if (error instanceof YamlSyntaxError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
