/**
 * A fast reader for the block-style YAML that yaml.v2 (and so `helm repo index`, and serializeIndex)
 * writes: block mappings and sequences, plain / single-quoted / double-quoted / literal scalars, empty
 * `[]` and `{}`. Anything outside that subset (comments, anchors, tags, flow collections, tabs,
 * unusual line breaks, indentation indicators...) makes it give up and return undefined, and the
 * caller falls back to the full parser. For what it accepts it returns exactly what parseGoYaml returns
 * (the unit tests check both on the same texts); it exists because the general parser needs seconds
 * and hundreds of MB for a 10,000-version index.
 */
import { mapKey, plainScalar as scalarOf, type YamlValue } from './go-yaml-parse';

class Unsupported extends Error {}

const UNSUPPORTED_CHARACTERS = /[\t\r\u0085\u2028\u2029\uFEFF]/;
const PLAIN_START_INDICATORS = new Set([
  '[',
  ']',
  '{',
  '}',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  '#',
  ',',
  '?',
  "'",
  '"',
]);

/** Parses a document in yaml.v2's output style, or returns undefined when it uses anything else. */
export function parseEmittedYaml(text: string): YamlValue | undefined {
  if (UNSUPPORTED_CHARACTERS.test(text) || !text.endsWith('\n')) return undefined;
  try {
    const parser = new Parser(text);
    const value = parser.document();
    return value;
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

const SIMPLE_DOUBLE_QUOTED = /^"([^"\\\n]*)"/y;
const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
};
const HEX_LENGTH: Record<string, number> = { x: 2, u: 4, U: 8 };

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): YamlValue {
    if (this.text.startsWith('---') || this.text.startsWith('%')) throw new Unsupported();
    if (this.indentation(0) !== 0) throw new Unsupported();
    const value = this.blockMapping(0);
    if (this.pos !== this.text.length) throw new Unsupported();
    return value;
  }

  /** Spaces at the start of the line beginning at `at`; -1 for an empty line or the end of the text. */
  private indentation(at: number): number {
    let i = at;
    while (this.text.charCodeAt(i) === 32) i++;
    if (i >= this.text.length || this.text.charCodeAt(i) === 10) return -1;
    return i - at;
  }

  /** A block mapping whose keys sit at column `indent`; `pos` is at the first key (maybe mid-line after "- "). */
  private blockMapping(indent: number): YamlValue {
    const entries: Array<[string, YamlValue]> = [];
    // Duplicate keys are left to the full parser (it reports them); small mappings are scanned.
    let seen: Set<string> | undefined;
    for (;;) {
      const key = this.mappingKey();
      if (entries.length >= 16) {
        seen ??= new Set(entries.map(([existing]) => existing));
        if (seen.has(key)) throw new Unsupported();
        seen.add(key);
      } else if (entries.some(([existing]) => existing === key)) {
        throw new Unsupported();
      }
      entries.push([key, this.mappingValue(indent)]);
      if (this.pos >= this.text.length || this.indentation(this.pos) !== indent) break;
      this.pos += indent;
      if (this.startsSequenceItem()) throw new Unsupported();
    }
    const next = this.pos >= this.text.length ? -1 : this.indentation(this.pos);
    if (next > indent) throw new Unsupported();
    return { kind: 'map', entries };
  }

  private mappingKey(): string {
    const c = this.text[this.pos];
    let key: YamlValue;
    if (c === '"') key = this.doubleQuoted(-1);
    else if (c === "'") key = this.singleQuoted(-1);
    else {
      const end = this.text.indexOf(':', this.pos);
      const lineEnd = this.text.indexOf('\n', this.pos);
      if (end === -1 || end > lineEnd) throw new Unsupported();
      const raw = this.text.slice(this.pos, end);
      if (!isPlainSafe(raw) || raw === '<<') throw new Unsupported();
      this.pos = end;
      key = scalarOf(raw);
    }
    if (this.text[this.pos] !== ':') throw new Unsupported();
    this.pos++;
    return mapKey(key);
  }

  /** After "key:": an inline value, a nested block, or nothing (null). Leaves `pos` at a line start. */
  private mappingValue(indent: number): YamlValue {
    if (this.text[this.pos] === ' ') {
      this.pos++;
      return this.inlineValue(indent);
    }
    if (this.text[this.pos] !== '\n') throw new Unsupported();
    this.pos++;
    const next = this.pos >= this.text.length ? -1 : this.indentation(this.pos);
    if (next === indent && this.text.startsWith('-', this.pos + indent)) {
      this.pos += indent;
      if (!this.startsSequenceItem()) throw new Unsupported();
      return this.blockSequence(indent);
    }
    if (next > indent) {
      this.pos += next;
      if (this.startsSequenceItem()) return this.blockSequence(next);
      return this.blockMapping(next);
    }
    return { kind: 'null' };
  }

  private startsSequenceItem(): boolean {
    return (
      this.text[this.pos] === '-' && (this.text[this.pos + 1] === ' ' || this.text[this.pos + 1] === '\n')
    );
  }

  /** A block sequence whose "- " sit at column `indent`; `pos` is at the first "-". */
  private blockSequence(indent: number): YamlValue {
    const items: YamlValue[] = [];
    for (;;) {
      if (this.text[this.pos + 1] !== ' ') throw new Unsupported();
      this.pos += 2;
      items.push(this.sequenceItem(indent));
      if (this.pos >= this.text.length || this.indentation(this.pos) !== indent) break;
      this.pos += indent;
      if (!this.startsSequenceItem()) {
        this.pos -= indent;
        break;
      }
    }
    return { kind: 'seq', items };
  }

  private sequenceItem(indent: number): YamlValue {
    if (this.looksLikeKey()) return this.blockMapping(indent + 2);
    if (this.startsSequenceItem()) throw new Unsupported();
    return this.inlineValue(indent);
  }

  /** Whether the rest of the line starts with a mapping key ("key: ..." or "key:" at the end). */
  private looksLikeKey(): boolean {
    const lineEnd = this.text.indexOf('\n', this.pos);
    const c = this.text[this.pos];
    if (c === '"' || c === "'") {
      const saved = this.pos;
      try {
        if (c === '"') this.doubleQuoted(-1);
        else this.singleQuoted(-1);
        return this.text[this.pos] === ':';
      } catch (error) {
        if (error instanceof Unsupported) return false;
        throw error;
      } finally {
        this.pos = saved;
      }
    }
    const colon = this.text.indexOf(':', this.pos);
    if (colon === -1 || colon > lineEnd) return false;
    const after = this.text[colon + 1];
    return after === ' ' || after === '\n';
  }

  /** A value after "key: " or "- ": scalar, literal block, [] or {}. `parent` is the enclosing indentation. */
  private inlineValue(parent: number): YamlValue {
    const c = this.text[this.pos];
    let value: YamlValue;
    if (c === '"') value = this.doubleQuoted(parent);
    else if (c === "'") value = this.singleQuoted(parent);
    else if (c === '|') return this.literal(parent);
    else if (this.text.startsWith('[]\n', this.pos)) {
      this.pos += 2;
      value = { kind: 'seq', items: [] };
    } else if (this.text.startsWith('{}\n', this.pos)) {
      this.pos += 2;
      value = { kind: 'map', entries: [] };
    } else {
      value = this.plain(parent);
      return value;
    }
    if (this.text[this.pos] !== '\n') throw new Unsupported();
    this.pos++;
    return value;
  }

  /** A plain scalar, possibly folded over more-indented lines; leaves `pos` at the next line start. */
  private plain(parent: number): YamlValue {
    let lineEnd = this.text.indexOf('\n', this.pos);
    let raw = this.text.slice(this.pos, lineEnd);
    if (!isPlainSafe(raw)) throw new Unsupported();
    this.pos = lineEnd + 1;
    while (this.pos < this.text.length) {
      const indent = this.indentation(this.pos);
      if (indent <= parent) break;
      if (indent === -1) throw new Unsupported();
      lineEnd = this.text.indexOf('\n', this.pos);
      const continuation = this.text.slice(this.pos + indent, lineEnd);
      if (!isPlainContinuation(continuation)) throw new Unsupported();
      raw += ` ${continuation}`;
      this.pos = lineEnd + 1;
    }
    return scalarOf(raw);
  }

  /** A double-quoted scalar; `parent` < 0 means it must fit on one line (a key). */
  private doubleQuoted(parent: number): string {
    SIMPLE_DOUBLE_QUOTED.lastIndex = this.pos;
    const simple = SIMPLE_DOUBLE_QUOTED.exec(this.text);
    if (simple !== null) {
      this.pos = SIMPLE_DOUBLE_QUOTED.lastIndex;
      return simple[1] ?? '';
    }
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      const c = this.text[i];
      if (c === undefined) throw new Unsupported();
      if (c === '"') break;
      if (c === '\\') {
        const e = this.text[i + 1] ?? '';
        const hex = HEX_LENGTH[e];
        if (hex !== undefined) {
          const digits = this.text.slice(i + 2, i + 2 + hex);
          if (!/^[0-9A-Fa-f]+$/.test(digits) || digits.length !== hex) throw new Unsupported();
          const code = Number.parseInt(digits, 16);
          if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new Unsupported();
          out += String.fromCodePoint(code);
          i += 2 + hex;
        } else {
          const escaped = ESCAPES[e];
          if (escaped === undefined) throw new Unsupported();
          out += escaped;
          i += 2;
        }
      } else if (c === '\n') {
        i = this.fold(i, parent);
        out += ' ';
      } else {
        const next = nextIndex(DOUBLE_QUOTED_SPECIAL, this.text, i);
        out += this.text.slice(i, next);
        i = next;
      }
    }
    this.pos = i + 1;
    return out;
  }

  /** A single-quoted scalar ('' is a quote); `parent` < 0 means one line only. */
  private singleQuoted(parent: number): string {
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      const c = this.text[i];
      if (c === undefined) throw new Unsupported();
      if (c === "'") {
        if (this.text[i + 1] === "'") {
          out += "'";
          i += 2;
          continue;
        }
        break;
      }
      if (c === '\n') {
        i = this.fold(i, parent);
        out += ' ';
      } else {
        const next = nextIndex(SINGLE_QUOTED_SPECIAL, this.text, i);
        out += this.text.slice(i, next);
        i = next;
      }
    }
    this.pos = i + 1;
    return out;
  }

  /**
   * A line break inside a quoted scalar as the emitter writes it: one break, then the continuation
   * line indented deeper than the parent. Returns the index of the continuation's first character.
   */
  private fold(at: number, parent: number): number {
    if (parent < 0) throw new Unsupported();
    if (this.text[at - 1] === ' ' || this.text[at - 1] === '\\') throw new Unsupported();
    const indent = this.indentation(at + 1);
    if (indent <= parent) throw new Unsupported();
    return at + 1 + indent;
  }

  /** A literal block scalar ("|", "|-" or "|+", no indentation indicator). */
  private literal(parent: number): string {
    const lineEnd = this.text.indexOf('\n', this.pos);
    const header = this.text.slice(this.pos + 1, lineEnd);
    if (header !== '' && header !== '-' && header !== '+') throw new Unsupported();
    this.pos = lineEnd + 1;
    const lines: string[] = [];
    let contentIndent = -1;
    while (this.pos < this.text.length) {
      const end = this.text.indexOf('\n', this.pos);
      if (end === this.pos) {
        lines.push('');
        this.pos++;
        continue;
      }
      const indent = this.indentation(this.pos);
      if (indent === -1) throw new Unsupported();
      if (contentIndent === -1) {
        if (indent <= parent) break;
        if (lines.length > 0) throw new Unsupported();
        contentIndent = indent;
      }
      if (indent < contentIndent) break;
      lines.push(this.text.slice(this.pos + contentIndent, end));
      this.pos = end + 1;
    }
    if (contentIndent === -1) throw new Unsupported();
    let trailing = 0;
    while (trailing < lines.length && lines[lines.length - 1 - trailing] === '') trailing++;
    const body = lines.slice(0, lines.length - trailing).join('\n');
    if (header === '-') return body;
    if (header === '+') return `${body}\n${'\n'.repeat(trailing)}`;
    return `${body}\n`;
  }
}

/** A plain scalar (or key) libyaml would have written as is: no indicators, no ": " or " #", no edge spaces. */
/** Words that are plainly safe: no spaces, no indicator first, no trailing colon. */
const SAFE_WORD = /^[A-Za-z0-9_/][A-Za-z0-9_./+=~:@%?&,-]*(?<!:)$/;

function isPlainSafe(raw: string): boolean {
  if (SAFE_WORD.test(raw)) return true;
  if (raw === '' || raw.startsWith(' ') || raw.endsWith(' ') || raw.endsWith(':')) return false;
  const first = raw[0] ?? '';
  if (PLAIN_START_INDICATORS.has(first)) return false;
  if ((first === '-' || first === ':' || first === '?') && (raw.length === 1 || raw[1] === ' ')) return false;
  if (raw.startsWith('---') || raw.startsWith('...')) return false;
  return !raw.includes(': ') && !raw.includes(' #');
}

function isPlainContinuation(raw: string): boolean {
  const first = raw[0] ?? '';
  if (raw === '' || first === '-' || PLAIN_START_INDICATORS.has(first)) return false;
  return !raw.endsWith(' ') && !raw.endsWith(':') && !raw.includes(': ') && !raw.includes(' #');
}

const DOUBLE_QUOTED_SPECIAL = /["\\\n]/g;
const SINGLE_QUOTED_SPECIAL = /['\n]/g;

/** Index of the next match of a global regex from `from`; unsupported when there is none. */
function nextIndex(pattern: RegExp, text: string, from: number): number {
  pattern.lastIndex = from;
  const match = pattern.exec(text);
  if (match === null) throw new Unsupported();
  return match.index;
}
