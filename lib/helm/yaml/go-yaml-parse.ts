/**
 * Reads YAML the way go.yaml.in/yaml/v2 does when Helm unmarshals through sigs.k8s.io/yaml: YAML 1.1
 * resolution of plain scalars (see resolvePlain), quoted scalars always strings, aliases and `<<` merge
 * keys expanded, only the first document read. The `yaml` package does the syntax; the resolution of
 * scalars is ours, so that `appVersion: 1.0`, `yes` or `2024-01-02` mean what they mean to Helm.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, parseAllDocuments, Scalar } from 'yaml';
import { YamlSyntaxError } from '../../errors';
import { formatGoFloat, resolvePlain } from './go-yaml';

/** A YAML value as yaml.v2 decodes it into interface{} (integers exact, floats as numbers). */
/** Strings, by far the most common values, are plain JavaScript strings (no wrapper object). */
export type YamlValue =
  | string
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'seq'; items: YamlValue[] }
  | { kind: 'map'; entries: Array<[string, YamlValue]> };

export interface YamlParseOptions {
  /** yaml.v2 UnmarshalStrict: a key repeated in one mapping is an error. */
  strict: boolean;
  /** Upper bound on nodes visited, counting alias expansions (defends against "billion laughs"). */
  maxNodes: number;
  /**
   * Upper bound on the text of the decoded document, aliases expanded (keys and scalars): a few aliases
   * of one long string stay few nodes but make a huge document.
   */
  maxExpandedBytes?: number;
}

export function parseGoYaml(text: string, options: YamlParseOptions): YamlValue {
  const documents = parseAllDocuments(text, {
    version: '1.1',
    schema: 'failsafe',
    uniqueKeys: false,
    prettyErrors: false,
    strict: false,
  });
  const list = Array.isArray(documents) ? documents : [];
  const first = list[0];
  if (first === undefined) return { kind: 'null' };
  const error = first.errors[0];
  if (error !== undefined) throw new YamlSyntaxError(error.message.split('\n')[0] ?? error.message);
  let visited = 0;
  let expanded = 0;
  const maxExpandedBytes = options.maxExpandedBytes ?? Number.POSITIVE_INFINITY;
  const convert = (node: unknown): YamlValue => {
    visited++;
    if (visited > options.maxNodes)
      throw new YamlSyntaxError(`more than ${options.maxNodes} YAML nodes (aliases expanded)`);
    if (node === null || node === undefined) return { kind: 'null' };
    if (isAlias(node)) {
      const target = node.resolve(first);
      if (target === undefined) throw new YamlSyntaxError(`unknown anchor "${node.source}"`);
      return convert(target);
    }
    if (isScalar(node)) {
      expanded += String(node.value).length;
      if (expanded > maxExpandedBytes) {
        throw new YamlSyntaxError(`more than ${maxExpandedBytes} characters once aliases are expanded`);
      }
      return scalar(node);
    }
    if (isSeq(node)) return { kind: 'seq', items: node.items.map((item) => convert(item)) };
    if (isMap(node)) {
      const entries = new Map<string, YamlValue>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        if (
          isScalar(keyNode) &&
          keyNode.type === Scalar.PLAIN &&
          keyNode.source === '<<' &&
          keyNode.tag === undefined
        ) {
          merge(entries, convert(pair.value));
          continue;
        }
        const key = mapKey(convert(keyNode));
        if (options.strict && entries.has(key)) throw new YamlSyntaxError(`key "${key}" already set in map`);
        entries.delete(key);
        entries.set(key, convert(pair.value));
      }
      return { kind: 'map', entries: [...entries] };
    }
    throw new YamlSyntaxError('unsupported YAML node');
  };
  return convert(first.contents);
}

function scalar(node: Scalar): YamlValue {
  const text = String(node.value);
  const tag = node.tag?.replace('tag:yaml.org,2002:', '!!');
  if (tag === '!!str') return text;
  // yaml.v2 decodes the base64 into a Go string of the bytes; JSON then writes them as UTF-8 text
  if (tag === '!!binary') return Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (node.type !== Scalar.PLAIN && tag === undefined) return text;
  return plainScalar(text);
}

/** A plain scalar's value under yaml.v2's resolution rules. */
export function plainScalar(text: string): YamlValue {
  const resolved = resolvePlain(text);
  switch (resolved.tag) {
    case 'str':
    case 'timestamp':
      return resolved.value;
    case 'null':
      return { kind: 'null' };
    case 'bool':
      return { kind: 'bool', value: resolved.value };
    case 'int':
      return { kind: 'int', value: resolved.value };
    case 'float':
      return { kind: 'float', value: resolved.value };
  }
}

/** sigs.k8s.io/yaml renames the float keys that JSON cannot spell (after the float32 conversion). */
const GO_FLOAT_KEY_NAMES: Readonly<Record<string, string>> = { '+Inf': '.inf', '-Inf': '-.inf', NaN: '.nan' };

/** sigs.k8s.io/yaml: map keys become JSON strings (ints and bools printed, floats as float32 'g'). */
export function mapKey(key: YamlValue): string {
  if (typeof key === 'string') return key;
  switch (key.kind) {
    case 'int':
      return key.value.toString();
    case 'bool':
      return String(key.value);
    case 'float':
      return GO_FLOAT_KEY_NAMES[formatGoFloat(key.value, 32)] ?? formatGoFloat(key.value, 32);
    default:
      throw new YamlSyntaxError(`unsupported map key of type ${key.kind}`);
  }
}

function merge(target: Map<string, YamlValue>, source: YamlValue): void {
  const sources = typeof source !== 'string' && source.kind === 'seq' ? source.items : [source];
  for (const item of sources) {
    if (typeof item === 'string' || item.kind !== 'map')
      throw new YamlSyntaxError('map merge requires map or sequence of maps as the value');
    for (const [key, value] of item.entries) if (!target.has(key)) target.set(key, value);
  }
}
