/**
 * Go's encoding/json output, byte for byte, for what helm writes with it: json.Marshal (compact) and
 * json.MarshalIndent (`indent` per level). Hand-written because JSON.stringify differs in what matters
 * for byte equality: struct fields come in Go's declaration order (not the object's), map keys sorted by
 * bytes, `<` `>` `&` U+2028 U+2029 escaped, and -0 kept.
 */

import type { GoValue } from '../yaml/go-yaml';
import { GO_FIELD_ORDER } from './metadata';

export type StructName = keyof typeof GO_FIELD_ORDER;

export class GoJsonWriter {
  private readonly out: string[] = [];

  /** `indent`: MarshalIndent's per-level indent; undefined: Marshal's compact form. */
  constructor(private readonly indent?: string) {}

  text(): string {
    return this.out.join('');
  }

  raw(text: string): void {
    this.out.push(text);
  }

  /** `{}` or the keys in the given order, each value written by `write` one level deeper. */
  object(keys: string[], depth: number, write: (key: string, depth: number) => void): void {
    if (keys.length === 0) {
      this.out.push('{}');
      return;
    }
    this.out.push('{');
    keys.forEach((key, position) => {
      this.out.push(
        `${position === 0 ? '' : ','}${this.newline(depth + 1)}${quote(key)}:${this.indent === undefined ? '' : ' '}`,
      );
      write(key, depth + 1);
    });
    this.out.push(`${this.newline(depth)}}`);
  }

  list<T>(items: T[], depth: number, write: (item: T, depth: number) => void): void {
    if (items.length === 0) {
      this.out.push('[]');
      return;
    }
    this.out.push('[');
    items.forEach((item, position) => {
      this.out.push(`${position === 0 ? '' : ','}${this.newline(depth + 1)}`);
      write(item, depth + 1);
    });
    this.out.push(`${this.newline(depth)}]`);
  }

  /** A struct of helm's (fields in Go's order, absent ones left out as omitempty does). */
  struct(name: StructName, value: object, depth: number): void {
    const record = value as Record<string, unknown>;
    const present = GO_FIELD_ORDER[name].filter((field) => record[field] !== undefined);
    this.object(present, depth, (field, at) => {
      const item = record[field];
      if (field === 'maintainers' || field === 'dependencies') {
        const struct: StructName = field === 'maintainers' ? 'Maintainer' : 'Dependency';
        this.list(item as Array<object | null>, at, (element, inner) =>
          element === null ? this.out.push('null') : this.struct(struct, element, inner),
        );
      } else {
        this.value(item as GoValue, at);
      }
    });
  }

  /** An interface{} value (or a string, list or map field): maps with sorted keys. */
  value(value: GoValue, depth: number): void {
    if (value === null) this.out.push('null');
    else if (typeof value === 'string') this.out.push(quote(value));
    else if (typeof value === 'boolean') this.out.push(value ? 'true' : 'false');
    else if (typeof value === 'bigint') this.out.push(value.toString());
    else if (typeof value === 'number') this.out.push(goJsonNumber(value));
    else if (Array.isArray(value)) this.list(value, depth, (item, at) => this.value(item, at));
    else this.object(sortedKeys(value), depth, (key, at) => this.value(value[key] as GoValue, at));
  }

  private newline(depth: number): string {
    return this.indent === undefined ? '' : `\n${this.indent.repeat(depth)}`;
  }
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
export function sortedKeys(map: object): string[] {
  return Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}
