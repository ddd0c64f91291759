/**
 * index.yaml as Helm reads and writes it (helm.sh/helm/v3 pkg/repo/index.go): loading (JSON or strict
 * YAML, invalid entries dropped, missing apiVersion an error), entries (the chart metadata plus urls,
 * created and digest), ordering (SemVer descending), and the exact YAML Helm writes.
 */
import { IndexFormatError } from '../errors';
import { parseEmittedYaml } from './fast-yaml';
import { formatHelmTime, GO_ZERO_TIME, normalizeGoTime } from './go-time';
import { emitGoYaml, type GoValue } from './go-yaml';
import { parseGoYaml, YamlSyntaxError, type YamlValue } from './go-yaml-parse';
import { type DecodedStruct, decodeIndexEntry, MetadataDecodeError, validateMetadata } from './metadata';
import { compareHelmVersions, type HelmVersion, parseHelmVersion } from './semver';
import type { ChartArchive, ChartVersionEntry, IndexFile } from './types';

export { formatHelmTime } from './go-time';

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
 * entry (same digest and URL) is left alone. A removal drops every entry whose first URL is the given
 * one, and a chart name left without versions. `generated` changes only when something else did.
 * The input index is not modified.
 */
export function applyChanges(
  index: IndexFile,
  changes: ResolvedChange[],
  now: Date,
): { index: IndexFile; changed: boolean } {
  const entries: Record<string, ChartVersionEntry[]> = { ...index.entries };
  const touched = new Set<string>();
  let changed = false;
  const removeWhere = (predicate: (entry: ChartVersionEntry) => boolean, names: Iterable<string>): void => {
    for (const name of names) {
      const versions = entries[name];
      if (versions === undefined || !versions.some(predicate)) continue;
      const kept = versions.filter((entry) => !predicate(entry));
      changed = true;
      if (kept.length === 0) delete entries[name];
      else entries[name] = kept;
    }
  };
  for (const change of changes) {
    if (change.kind === 'remove') {
      removeWhere((entry) => entry.urls[0] === change.url, Object.keys(entries));
      continue;
    }
    const entry = change.entry;
    const url = entry.urls[0];
    const versions = entries[entry.name] ?? [];
    const same = versions.find((existing) => existing.version === entry.version);
    if (same !== undefined && same.digest === entry.digest && same.urls[0] === url && sameUrls(same, entry)) {
      continue;
    }
    removeWhere(
      (existing) =>
        existing.urls[0] === url && !(existing.name === entry.name && existing.version === entry.version),
      Object.keys(entries),
    );
    const current = (entries[entry.name] ?? []).filter((existing) => existing.version !== entry.version);
    current.push(entry);
    entries[entry.name] = current;
    touched.add(entry.name);
    changed = true;
  }
  if (!changed) return { index, changed: false };
  for (const name of touched) {
    const versions = entries[name];
    if (versions !== undefined) entries[name] = sortVersions(versions);
  }
  return { index: { ...index, entries, generated: formatHelmTime(now) }, changed: true };
}

function sameUrls(a: ChartVersionEntry, b: ChartVersionEntry): boolean {
  return a.urls.length === b.urls.length && a.urls.every((url, index) => url === b.urls[index]);
}

/** Newest first (Helm's SortEntries); equal versions by version string, unparsable ones last. */
export function sortVersions(versions: ChartVersionEntry[]): ChartVersionEntry[] {
  const keyed = versions.map((entry) => {
    const parsed = parseHelmVersion(entry.version);
    return { entry, parsed: 'error' in parsed ? undefined : parsed };
  });
  keyed.sort((a, b) => compareKeyed(a.parsed, b.parsed, a.entry.version, b.entry.version));
  return keyed.map(({ entry }) => entry);
}

function compareKeyed(
  a: HelmVersion | undefined,
  b: HelmVersion | undefined,
  aText: string,
  bText: string,
): number {
  if (a !== undefined && b !== undefined) {
    const difference = compareHelmVersions(b, a);
    if (difference !== 0) return difference;
  } else if (a !== undefined || b !== undefined) {
    return a !== undefined ? -1 : 1;
  }
  return aText === bText ? 0 : aText < bText ? -1 : 1;
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
  if (typeof value === 'string') return { kind: 'str', value };
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
  if (document.kind !== 'map') throw new IndexFormatError('the index is not a mapping');
  const strict = source === 'yaml';
  let apiVersion = '';
  let generated = GO_ZERO_TIME;
  const entries: Record<string, ChartVersionEntry[]> = {};
  const index: Partial<IndexFile> = {};
  for (const [rawKey, value] of document.entries) {
    const key =
      TOP_LEVEL_FIELDS.find((field) => field === rawKey) ??
      TOP_LEVEL_FIELDS.find((f) => f.toLowerCase() === rawKey.toLowerCase());
    if (key === undefined) {
      if (strict) throw new IndexFormatError(`unknown field "${rawKey}" in the index`);
      continue;
    }
    if (value.kind === 'null') continue;
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
        break;
      case 'serverInfo':
        if (value.kind !== 'map') throw new IndexFormatError('serverInfo is not a mapping');
        index.serverInfo = toPlain(value) as Record<string, unknown>;
        break;
      case 'publicKeys':
        if (value.kind !== 'seq') throw new IndexFormatError('publicKeys is not a list');
        index.publicKeys = value.items.map((item) =>
          item.kind === 'null' ? '' : expectString(item, 'publicKeys'),
        );
        break;
      case 'annotations':
        if (value.kind !== 'map') throw new IndexFormatError('annotations is not a mapping');
        index.annotations = Object.fromEntries(
          value.entries.map(([k, v]) => [k, v.kind === 'null' ? '' : expectString(v, `annotations.${k}`)]),
        );
        break;
    }
  }
  if (apiVersion === '') throw new IndexFormatError('no API version specified');
  const result: IndexFile = { apiVersion: apiVersion as 'v1', entries, generated };
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
  entries: Record<string, ChartVersionEntry[]>,
  onDropped: (d: DroppedEntry) => void,
): void {
  if (value.kind !== 'map') throw new IndexFormatError('entries is not a mapping');
  for (const [name, list] of value.entries) {
    if (list.kind === 'null') {
      entries[name] = [];
      continue;
    }
    if (list.kind !== 'seq') throw new IndexFormatError(`entries.${name} is not a list`);
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
      decoded.urls ??= [];
      decoded.created ??= GO_ZERO_TIME;
      versions.push(decoded as ChartVersionEntry);
    }
    entries[name] = sortVersions(versions);
  }
}

function expectString(value: YamlValue, where: string): string {
  if (value.kind === 'str') return value.value;
  throw new IndexFormatError(`${where} is not a string`);
}

function toPlain(value: YamlValue): GoValue {
  switch (value.kind) {
    case 'str':
    case 'bool':
      return value.value;
    case 'null':
      return null;
    case 'int':
    case 'float':
      return Number(value.value);
    case 'seq':
      return value.items.map(toPlain);
    case 'map':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, toPlain(v)]));
  }
}

/** The index as `helm repo index` writes it: Go's JSON field set, keys sorted, yaml.v2 formatting. */
export function serializeIndex(index: IndexFile): string {
  const entries: Record<string, GoValue> = {};
  for (const [name, versions] of Object.entries(index.entries))
    entries[name] = versions.map(withoutEmptyFields);
  const document: Record<string, GoValue> = {
    apiVersion: index.apiVersion,
    entries,
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
