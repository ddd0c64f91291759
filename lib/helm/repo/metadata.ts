import { MetadataDecodeError } from '../../errors';
/**
 * Chart metadata as Helm's Go types hold it (helm.sh/helm/v3 pkg/chart.Metadata, Maintainer, Dependency,
 * pkg/repo.ChartVersion): decoding a parsed YAML or JSON document into those fields with the same
 * conversions and errors (sigs.k8s.io/yaml then encoding/json), `Metadata.Validate` with its
 * sanitising of strings, and the JSON field names with `omitempty`, which is what an index entry holds.
 */
import { normalizeGoTime } from '../yaml/go-time';
import type { GoValue } from '../yaml/go-yaml';
import { formatGoFloat } from '../yaml/go-yaml';
import type { YamlValue } from '../yaml/go-yaml-parse';
import { isHelmVersion } from './semver';

type FieldKind =
  | 'string'
  | 'bool'
  | 'strings'
  | 'stringMap'
  | 'maintainers'
  | 'dependencies'
  | 'anyList'
  | 'time';

const METADATA_FIELDS: Record<string, FieldKind> = {
  name: 'string',
  home: 'string',
  sources: 'strings',
  version: 'string',
  description: 'string',
  keywords: 'strings',
  maintainers: 'maintainers',
  icon: 'string',
  apiVersion: 'string',
  condition: 'string',
  tags: 'string',
  appVersion: 'string',
  deprecated: 'bool',
  annotations: 'stringMap',
  kubeVersion: 'string',
  dependencies: 'dependencies',
  type: 'string',
};

/** pkg/repo.ChartVersion: the metadata plus the index's own fields (deprecated ones kept for strict loading). */
const ENTRY_FIELDS: Record<string, FieldKind> = {
  ...METADATA_FIELDS,
  urls: 'strings',
  created: 'time',
  removed: 'bool',
  digest: 'string',
  checksum: 'string',
  engine: 'string',
  tillerVersion: 'string',
  url: 'string',
};

const MAINTAINER_FIELDS: Record<string, FieldKind> = { name: 'string', email: 'string', url: 'string' };

const DEPENDENCY_FIELDS: Record<string, FieldKind> = {
  name: 'string',
  version: 'string',
  repository: 'string',
  condition: 'string',
  tags: 'strings',
  enabled: 'bool',
  'import-values': 'anyList',
  alias: 'string',
};
/** Go's declaration order of the fields, which encoding/json follows when it writes a struct. */
export const GO_FIELD_ORDER = {
  Metadata: Object.keys(METADATA_FIELDS),
  ChartVersion: Object.keys(ENTRY_FIELDS),
  Maintainer: Object.keys(MAINTAINER_FIELDS),
  Dependency: Object.keys(DEPENDENCY_FIELDS),
} as const;

/** Dependency fields without `omitempty`: written even when empty. */
const DEPENDENCY_ALWAYS = ['name', 'repository'];

export interface DecodeOptions {
  /** JSON input is typed strictly (no number→string conversion); YAML goes through sigs.k8s.io/yaml. */
  source: 'yaml' | 'json';
  /** Unknown fields are an error (yaml.UnmarshalStrict, as Helm loads index.yaml). */
  strict: boolean;
  /**
   * false where sigs.k8s.io/yaml cannot see the Go field's type, so a number or bool stays one and
   * encoding/json refuses it: inside ChartVersion's embedded *Metadata (checked with helm 3.21.4, which
   * refuses an index holding `appVersion: 1.10` but reads `digest: 123` as "123").
   */
  scalarsToStrings?: boolean;
}

/** A decoded struct: Go JSON names → values; zero values are absent (Go's omitempty). `null` items in lists stay. */
export type DecodedStruct = Record<string, unknown>;

/** Fields without `omitempty`: an empty list stays `[]`, which Go tells apart from nil (`null`). */
const KEPT_WHEN_EMPTY = new Set(['ChartVersion.urls']);

export function decodeChartMetadata(document: YamlValue, options: DecodeOptions): DecodedStruct {
  if (typeof document !== 'string' && document.kind === 'null') return {};
  return decodeStruct(document, METADATA_FIELDS, options, 'Metadata');
}

export function decodeIndexEntry(document: YamlValue, options: DecodeOptions): DecodedStruct | null {
  if (typeof document !== 'string' && document.kind === 'null') return null;
  return decodeStruct(document, ENTRY_FIELDS, options, 'ChartVersion');
}

/** Applies another document's fields over decoded metadata (Helm unmarshals requirements.yaml into the same struct). */
export function mergeChartMetadata(
  target: DecodedStruct,
  document: YamlValue,
  options: DecodeOptions,
): DecodedStruct {
  if (typeof document !== 'string' && document.kind === 'null') return target;
  return { ...target, ...decodeStruct(document, METADATA_FIELDS, options, 'Metadata') };
}

function decodeStruct(
  document: YamlValue,
  fields: Record<string, FieldKind>,
  options: DecodeOptions,
  typeName: string,
): DecodedStruct {
  if (typeof document === 'string' || document.kind !== 'map')
    throw mismatch(document, `${typeName}`, 'object');
  const names = Object.keys(fields);
  // sigs.k8s.io/yaml hands encoding/json an object whose keys Go sorted; JSON input keeps its order.
  // The order only matters when keys differ just by case (the last one wins).
  const inexact = document.entries.some(([key]) => !Object.hasOwn(fields, key));
  const entries =
    options.source === 'yaml' && inexact
      ? [...document.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      : document.entries;
  const result: DecodedStruct = {};
  const metadataOptions: DecodeOptions =
    typeName === 'ChartVersion' ? { ...options, scalarsToStrings: false } : options;
  for (const [key, value] of entries) {
    const field = Object.hasOwn(fields, key)
      ? key
      : names.find((name) => name.toLowerCase() === key.toLowerCase());
    if (field === undefined) {
      if (options.strict) throw new MetadataDecodeError(`unknown field "${key}" in ${typeName}`);
      continue;
    }
    const kind = fields[field] as FieldKind;
    const where = `${typeName}.${field}`;
    if (typeof value !== 'string' && value.kind === 'null') {
      if (
        kind === 'strings' ||
        kind === 'stringMap' ||
        kind === 'maintainers' ||
        kind === 'dependencies' ||
        kind === 'anyList'
      ) {
        delete result[field];
      }
      continue;
    }
    const fieldOptions = Object.hasOwn(METADATA_FIELDS, field) ? metadataOptions : options;
    const decoded = decodeField(value, kind, fieldOptions, where);
    if (isZero(decoded) && !KEPT_WHEN_EMPTY.has(where)) delete result[field];
    else result[field] = decoded;
  }
  if (typeName === 'Dependency') {
    for (const field of DEPENDENCY_ALWAYS) result[field] ??= '';
  }
  return result;
}

function decodeField(value: YamlValue, kind: FieldKind, options: DecodeOptions, where: string): unknown {
  switch (kind) {
    case 'string':
      return decodeString(value, options, where);
    case 'bool':
      if (typeof value === 'string' || value.kind !== 'bool') throw mismatch(value, where, 'bool');
      return value.value;
    case 'time': {
      const text = typeof value === 'string' ? value : undefined;
      const time = text === undefined ? undefined : normalizeGoTime(text);
      if (time === undefined) throw new MetadataDecodeError(`${where}: not an RFC 3339 time`);
      return time;
    }
    case 'strings':
      return sequence(value, where).map((item) =>
        typeof item !== 'string' && item.kind === 'null' ? '' : decodeString(item, options, where),
      );
    case 'stringMap': {
      if (typeof value === 'string' || value.kind !== 'map')
        throw mismatch(value, where, 'map[string]string');
      const map: Record<string, string> = {};
      for (const [key, item] of value.entries)
        map[key] = typeof item !== 'string' && item.kind === 'null' ? '' : decodeString(item, options, where);
      return map;
    }
    case 'maintainers':
      return sequence(value, where).map((item) =>
        typeof item !== 'string' && item.kind === 'null'
          ? null
          : decodeStruct(item, MAINTAINER_FIELDS, options, 'Maintainer'),
      );
    case 'dependencies':
      return sequence(value, where).map((item) =>
        typeof item !== 'string' && item.kind === 'null'
          ? null
          : decodeStruct(item, DEPENDENCY_FIELDS, options, 'Dependency'),
      );
    case 'anyList':
      return sequence(value, where).map((item) => toInterface(item));
  }
}

function decodeString(value: YamlValue, options: DecodeOptions, where: string): string {
  if (typeof value === 'string') return value;
  if (options.source === 'yaml' && options.scalarsToStrings !== false) {
    // sigs.k8s.io/yaml converts a scalar to a string when the Go field is a string.
    if (typeof value !== 'string' && value.kind === 'int') return value.value.toString();
    if (typeof value !== 'string' && value.kind === 'float') return formatGoFloat(value.value, 32);
    if (typeof value !== 'string' && value.kind === 'bool') return String(value.value);
  }
  throw mismatch(value, where, 'string');
}

function sequence(value: YamlValue, where: string): YamlValue[] {
  if (typeof value === 'string' || value.kind !== 'seq') throw mismatch(value, where, 'list');
  return value.items;
}

/** A value decoded into interface{} after Go's JSON round trip: every number becomes a float64. */
export function toInterface(value: YamlValue): GoValue {
  if (typeof value === 'string') return value;
  switch (value.kind) {
    case 'bool':
      return value.value;
    case 'null':
      return null;
    case 'int':
      return Number(value.value);
    case 'float':
      if (!Number.isFinite(value.value))
        throw new MetadataDecodeError('infinity and NaN are not valid JSON values');
      return value.value;
    case 'seq':
      return value.items.map(toInterface);
    case 'map':
      return Object.fromEntries(value.entries.map(([key, item]) => [key, toInterface(item)]));
  }
}

function isZero(value: unknown): boolean {
  if (value === '' || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

function mismatch(value: YamlValue, where: string, expected: string): MetadataDecodeError {
  const got = {
    str: 'string',
    null: 'null',
    bool: 'bool',
    int: 'number',
    float: 'number',
    seq: 'array',
    map: 'object',
  }[typeof value === 'string' ? 'str' : value.kind];
  return new MetadataDecodeError(`cannot unmarshal ${got} into ${where} of type ${expected}`);
}

/** Result of Helm's `Metadata.Validate`: the reason it fails, and whether index loading tolerates it. */
export interface ValidationProblem {
  reason: string;
  /** Helm ignores this failure when loading an index (duplicate dependency names, helm/helm#12748). */
  skippableInIndex: boolean;
}

const ALIAS_FORMAT = /^[a-zA-Z0-9_-]+$/;
const SANITIZED_LISTS = ['sources', 'keywords'];
const MAINTAINER_STRINGS = ['name', 'email', 'url'];
const DEPENDENCY_STRINGS = ['name', 'version', 'repository', 'condition'];
const SANITIZED_FIELDS = [
  'name',
  'description',
  'home',
  'icon',
  'condition',
  'tags',
  'appVersion',
  'kubeVersion',
];

/**
 * Helm's `Metadata.Validate` (pkg/chart/metadata.go), applied after `apiVersion` defaulted to v1:
 * sanitises strings in place (whitespace becomes a space, unprintable characters are dropped) and
 * returns the first problem, or undefined.
 */
export function validateMetadata(metadata: DecodedStruct): ValidationProblem | undefined {
  for (const field of SANITIZED_FIELDS) sanitizeField(metadata, field);
  for (const field of SANITIZED_LISTS) sanitizeList(metadata, field);
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const version = typeof metadata.version === 'string' ? metadata.version : '';
  if (metadata.apiVersion === undefined) return problem('chart.metadata.apiVersion is required');
  if (name === '') return problem('chart.metadata.name is required');
  if (name === '.' || name === '..') return problem(`chart.metadata.name "${name}" is not allowed`);
  if (name.includes('/')) return problem(`chart.metadata.name "${name}" is invalid`);
  if (version === '') return problem('chart.metadata.version is required');
  if (!isHelmVersion(version)) return problem(`chart.metadata.version "${version}" is invalid`);
  if (metadata.type !== undefined && metadata.type !== 'application' && metadata.type !== 'library') {
    return problem('chart.metadata.type must be application or library');
  }
  const maintainers = Array.isArray(metadata.maintainers) ? metadata.maintainers : [];
  for (const maintainer of maintainers) {
    if (maintainer === null) return problem('maintainers must not contain empty or null nodes');
    for (const field of MAINTAINER_STRINGS) sanitizeField(maintainer as DecodedStruct, field);
  }
  const dependencies = Array.isArray(metadata.dependencies) ? metadata.dependencies : [];
  const seen = new Set<string>();
  for (const dependency of dependencies as Array<DecodedStruct | null>) {
    if (dependency === null) return problem('dependencies must not contain empty or null nodes');
    for (const field of DEPENDENCY_STRINGS) sanitizeField(dependency, field, true);
    sanitizeList(dependency, 'tags');
    const alias = typeof dependency.alias === 'string' ? dependency.alias : '';
    if (alias !== '' && !ALIAS_FORMAT.test(alias)) {
      return problem(`dependency "${String(dependency.name)}" has disallowed characters in the alias`);
    }
    const key = alias !== '' ? alias : String(dependency.name);
    if (seen.has(key)) {
      return { reason: `more than one dependency with name or alias "${key}"`, skippableInIndex: true };
    }
    seen.add(key);
  }
  return undefined;
}

function problem(reason: string): ValidationProblem {
  return { reason, skippableInIndex: false };
}

function sanitizeField(target: DecodedStruct, field: string, keepEmpty = false): void {
  const value = target[field];
  if (typeof value !== 'string') return;
  const clean = sanitizeString(value);
  if (clean === '' && !keepEmpty) delete target[field];
  else target[field] = clean;
}

function sanitizeList(target: DecodedStruct, field: string): void {
  const value = target[field];
  if (Array.isArray(value))
    target[field] = value.map((item) => (typeof item === 'string' ? sanitizeString(item) : item));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const GO_SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/gu;
const GO_NOT_PRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu;

/** Helm's sanitizeString: unicode.IsSpace → ' ', then drop what unicode.IsPrint rejects. */
export function sanitizeString(value: string): string {
  if (PRINTABLE_ASCII.test(value)) return value;
  return value.replace(GO_SPACE, ' ').replace(GO_NOT_PRINTABLE, '');
}
