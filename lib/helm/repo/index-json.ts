/**
 * The index as `helm repo index --json` writes it: Go's json.MarshalIndent(index, "", "  ") with no
 * trailing newline. Hand-written because JSON.stringify differs from encoding/json in what matters for
 * byte equality: struct fields come in Go's declaration order (not the object's), map keys sorted by
 * bytes, `<` `>` `&` U+2028 U+2029 escaped, and -0 kept. helm 3.13 and later read such an index
 * several times faster than YAML.
 */

import type { IndexFile } from '../types';
import type { GoValue } from '../yaml/go-yaml';
import { isNilEntries } from './index-file';
import { GO_FIELD_ORDER } from './metadata';

type StructName = keyof typeof GO_FIELD_ORDER;

export function serializeIndexJson(index: IndexFile): string {
  const out: string[] = [];
  // IndexFile's fields in Go's order; the omitempty ones only when not empty.
  const writers = new Map<string, (depth: number) => void>();
  if (index.serverInfo !== undefined && Object.keys(index.serverInfo).length > 0) {
    writers.set('serverInfo', (depth) => writeValue(out, index.serverInfo as GoValue, depth));
  }
  writers.set('apiVersion', () => out.push(quote(index.apiVersion)));
  writers.set('generated', () => out.push(quote(index.generated)));
  writers.set('entries', () => (isNilEntries(index) ? out.push('null') : writeEntries(out, index.entries)));
  if (index.publicKeys !== undefined && index.publicKeys.length > 0) {
    writers.set('publicKeys', (depth) => writeValue(out, index.publicKeys as GoValue, depth));
  }
  if (index.annotations !== undefined && Object.keys(index.annotations).length > 0) {
    writers.set('annotations', (depth) => writeValue(out, index.annotations as GoValue, depth));
  }
  writeObject(out, [...writers.keys()], 0, (key, depth) => writers.get(key)?.(depth));
  return out.join('');
}

function writeEntries(out: string[], entries: IndexFile['entries']): void {
  writeObject(out, sortedKeys(entries), 1, (name, depth) => {
    const versions = entries[name];
    if (versions === null || versions === undefined) out.push('null');
    else writeList(out, versions, depth, (entry, at) => writeStruct(out, 'ChartVersion', entry, at));
  });
}

function writeStruct(out: string[], name: StructName, value: object, depth: number): void {
  const record = value as Record<string, unknown>;
  const present = GO_FIELD_ORDER[name].filter((field) => record[field] !== undefined);
  writeObject(out, present, depth, (field, at) => {
    const item = record[field];
    if (field === 'maintainers' || field === 'dependencies') {
      const struct: StructName = field === 'maintainers' ? 'Maintainer' : 'Dependency';
      writeList(out, item as Array<object | null>, at, (element, inner) =>
        element === null ? out.push('null') : writeStruct(out, struct, element, inner),
      );
    } else {
      writeValue(out, item as GoValue, at);
    }
  });
}

/** `{}` or the keys in the given order, one per line, each value written by `write` at depth + 1. */
function writeObject(
  out: string[],
  keys: string[],
  depth: number,
  write: (key: string, depth: number) => void,
): void {
  if (keys.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{');
  keys.forEach((key, position) => {
    out.push(`${position === 0 ? '' : ','}\n${indent(depth + 1)}${quote(key)}: `);
    write(key, depth + 1);
  });
  out.push(`\n${indent(depth)}}`);
}

function writeList<T>(
  out: string[],
  items: T[],
  depth: number,
  write: (item: T, depth: number) => void,
): void {
  if (items.length === 0) {
    out.push('[]');
    return;
  }
  out.push('[');
  items.forEach((item, position) => {
    out.push(`${position === 0 ? '' : ','}\n${indent(depth + 1)}`);
    write(item, depth + 1);
  });
  out.push(`\n${indent(depth)}]`);
}

/** An interface{} value (or a string, list or map field): maps with sorted keys. */
function writeValue(out: string[], value: GoValue, depth: number): void {
  if (value === null) out.push('null');
  else if (typeof value === 'string') out.push(quote(value));
  else if (typeof value === 'boolean') out.push(value ? 'true' : 'false');
  else if (typeof value === 'bigint') out.push(value.toString());
  else if (typeof value === 'number') out.push(goJsonNumber(value));
  else if (Array.isArray(value)) writeList(out, value, depth, (item, at) => writeValue(out, item, at));
  else writeObject(out, sortedKeys(value), depth, (key, at) => writeValue(out, value[key] as GoValue, at));
}

/**
 * encoding/json's float64: 'f' format between 1e-6 and 1e21, else 'e' with a one-digit negative
 * exponent kept short; JavaScript's shortest round-trip text uses the same thresholds and forms,
 * except for -0.
 */
export function goJsonNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`json: unsupported value: ${value}`);
  return Object.is(value, -0) ? '-0' : String(value);
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** encoding/json's string (HTML escaping on, as json.Marshal has it); a lone surrogate becomes U+FFFD. */
export function quote(text: string): string {
  const escaped = text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what encoding/json escapes
    /["\\<>&\u0000-\u001f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (char) => {
      const known = ESCAPES[char];
      if (known !== undefined) return known;
      const code = char.charCodeAt(0);
      if (code >= 0xd800 && code <= 0xdfff) return '\\ufffd';
      return `\\u00${code.toString(16).padStart(2, '0')}`;
    },
  );
  return `"${escaped}"`;
}

/** Go sorts map keys by their UTF-8 bytes (JavaScript's sort compares UTF-16 units). */
function sortedKeys(map: object): string[] {
  return Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function indent(depth: number): string {
  return '  '.repeat(depth);
}
