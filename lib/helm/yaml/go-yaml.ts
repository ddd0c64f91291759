/**
 * The parts of Go's YAML stack that decide what Helm's files look like, ported so our output is byte for
 * byte what `helm repo index` writes. Helm marshals with sigs.k8s.io/yaml v1.6.0: Go struct → JSON →
 * go.yaml.in/yaml/v2 (v2.4.4) generic value → YAML. So every mapping is emitted with its keys sorted
 * by yaml.v2's `keyList.Less`, and every scalar takes the style yaml.v2's encoder and libyaml's emitter
 * choose (plain, single-quoted, double-quoted or literal, lines folded past column 80).
 *
 * Also here: yaml.v2's resolution of plain scalars (YAML 1.1: `yes` is a boolean, `1.0` a float,
 * `2024-01-02` a timestamp), used both to decide quoting and to read plain scalars as Helm reads them.
 */

/** What a YAML value can be when it goes through the Go types Helm uses. */
export type GoValue = string | number | bigint | boolean | null | GoValue[] | { [key: string]: GoValue };

export type ResolvedScalar =
  | { tag: 'str'; value: string }
  | { tag: 'null' }
  | { tag: 'bool'; value: boolean }
  | { tag: 'int'; value: bigint }
  | { tag: 'float'; value: number }
  /** yaml.v2 keeps timestamps as strings when decoding into interface{}. */
  | { tag: 'timestamp'; value: string };

const BOOLEANS = new Map<string, boolean>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s) => [s, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map(
    (s) => [s, false] as const,
  ),
]);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOATS = new Map<string, number>([
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Number.POSITIVE_INFINITY] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, Number.NEGATIVE_INFINITY] as const),
]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const MIN_INT64 = -(1n << 63n);
const MAX_UINT64 = (1n << 64n) - 1n;

/** yaml.v2 `resolve("", s)` for a plain (unquoted, untagged) scalar. */
export function resolvePlain(text: string): ResolvedScalar {
  if (NULLS.has(text)) return { tag: 'null' };
  const first = text.charCodeAt(0);
  const hint = hintOf(first);
  if (hint === '') return { tag: 'str', value: text };
  const bool = BOOLEANS.get(text);
  if (bool !== undefined) return { tag: 'bool', value: bool };
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return { tag: 'float', value: special };
  if (text === '<<') return { tag: 'str', value: text };
  if (hint === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text)) return { tag: 'float', value: Number(text) };
    return { tag: 'str', value: text };
  }
  if (hint === 'D' || hint === 'S') {
    if (isGoYamlTimestamp(text)) return { tag: 'timestamp', value: text };
    const plain = text.replaceAll('_', '');
    const integer = parseGoInt(plain);
    if (integer !== undefined) return { tag: 'int', value: integer };
    if (YAML_STYLE_FLOAT.test(plain)) return { tag: 'float', value: Number(plain) };
    if (/^-?0b[01]+$/.test(plain)) {
      const negative = plain.startsWith('-');
      const value = BigInt(`0b${plain.slice(negative ? 3 : 2)}`);
      return { tag: 'int', value: negative ? -value : value };
    }
  }
  return { tag: 'str', value: text };
}

function hintOf(code: number): string {
  if (code === 43 || code === 45) return 'S';
  if (code >= 48 && code <= 57) return 'D';
  if (code === 46) return '.';
  if (Number.isNaN(code)) return '';
  return 'yYnNtTfFoO~'.includes(String.fromCharCode(code)) ? 'M' : '';
}

/** strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64). */
function parseGoInt(text: string): bigint | undefined {
  if (!GO_INT.test(text)) return undefined;
  const negative = text.startsWith('-');
  const unsigned = text.replace(/^[-+]/, '');
  let digits = unsigned;
  if (/^0[0-7]+$/.test(unsigned)) digits = `0o${unsigned.slice(1)}`;
  else if (/^0[xXoObB]/.test(unsigned)) digits = `0${unsigned[1]?.toLowerCase()}${unsigned.slice(2)}`;
  const magnitude = BigInt(digits);
  const value = negative ? -magnitude : magnitude;
  if (value < MIN_INT64 || value > MAX_UINT64) return undefined;
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const TIMESTAMP_LAYOUTS = [
  /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?:Z|[-+](\d{2}):(\d{2}))$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2})$/,
];

/** yaml.v2 `parseTimestamp`: the formats it tries with Go's time.Parse, including its range checks. */
export function isGoYamlTimestamp(text: string): boolean {
  if (!/^\d{4}-/.test(text)) return false;
  for (const layout of TIMESTAMP_LAYOUTS) {
    const match = layout.exec(text);
    if (match === null) continue;
    const [year, month, day, hour = 0, minute = 0, second = 0, zoneHour = 0, zoneMinute = 0] = match
      .slice(1)
      .map((part) => (part === undefined ? undefined : Number(part)));
    if (year === undefined || month === undefined || day === undefined) continue;
    if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year)) continue;
    if (hour > 23 || minute > 59 || second > 59 || zoneHour > 23 || zoneMinute > 59) continue;
    return true;
  }
  return false;
}

function daysIn(month: number, year: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1] ?? 31;
}

/** Whether yaml.v2's encoder may write this string unquoted (it would read back as the same string). */
function resolvesToString(text: string): boolean {
  return (
    resolvePlain(text).tag === 'str' &&
    !(/^[-+0-9]/.test(text) && text.includes(':') && BASE60_FLOAT.test(text))
  );
}

/**
 * strconv.FormatFloat(value, 'g', -1, bits): the shortest digits that read back as the same float32 or
 * float64; exponent form when the decimal exponent is below -4 or at least 6 (Go's rule for the shortest
 * precision), with at least two exponent digits.
 */
export function formatGoFloat(value: number, bits: 32 | 64): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  let exponential = value.toExponential();
  if (bits === 32) {
    // Go converts to float32 first: a finite float64 beyond float32's range formats as ±Inf.
    const target = Math.fround(value);
    if (!Number.isFinite(target)) return target > 0 ? '+Inf' : '-Inf';
    for (let precision = 1; precision <= 9; precision++) {
      const candidate = target.toExponential(precision - 1);
      if (Math.fround(Number(candidate)) === target) {
        exponential = candidate;
        break;
      }
    }
  }
  const [mantissa = '0', exponentText = '0'] = exponential.split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${exponentDigits}`;
  }
  const decimalPoint = exponent + 1;
  if (decimalPoint <= 0) return `${sign}0.${'0'.repeat(-decimalPoint)}${digits}`;
  if (decimalPoint >= digits.length) return `${sign}${digits}${'0'.repeat(decimalPoint - digits.length)}`;
  return `${sign}${digits.slice(0, decimalPoint)}.${digits.slice(decimalPoint)}`;
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

/** yaml.v2 `keyList.Less` for string keys: letters before other characters, digit runs compared as numbers. */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = Array.from(a);
  const br = Array.from(b);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ac = ar[i] as string;
    const bc = br[i] as string;
    if (ac === bc) continue;
    const al = LETTER.test(ac);
    const bl = LETTER.test(bc);
    if (al && bl) return codePoint(ac) < codePoint(bc);
    if (al || bl) return bl;
    let an = 0;
    let bn = 0;
    if (ac === '0' || bc === '0') {
      for (let j = i - 1; j >= 0 && DIGIT.test(ar[j] as string); j--) {
        if (ar[j] !== '0') {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && DIGIT.test(ar[ai] as string); ai++)
      an = an * 10 + (codePoint(ar[ai] as string) - 48);
    let bi = i;
    for (; bi < br.length && DIGIT.test(br[bi] as string); bi++)
      bn = bn * 10 + (codePoint(br[bi] as string) - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return codePoint(ac) < codePoint(bc);
  }
  return ar.length < br.length;
}

function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) length--;
  }
  return length;
}

function codePoint(character: string): number {
  return character.codePointAt(0) ?? 0;
}

export function compareGoYamlKeys(a: string, b: string): number {
  if (a === b) return 0;
  if (goYamlKeyLess(a, b)) return -1;
  return goYamlKeyLess(b, a) ? 1 : 0;
}

/**
 * Output as UTF-8 in one growing buffer: an index has hundreds of thousands of small pieces, and
 * concatenating JavaScript strings would leave as many intermediate strings for the GC.
 */
class OutputBuffer {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private length = 0;
  /** Small pieces are gathered in a short string first: one native write per few kilobytes. */
  private pending = '';

  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= 4096) this.flush();
  }

  spaces(count: number): void {
    this.write(count <= SPACES.length ? (SPACES[count] ?? '') : ' '.repeat(count));
  }

  toString(): string {
    this.flush();
    return this.buffer.toString('utf8', 0, this.length);
  }

  private flush(): void {
    const bytes = this.pending.length * 3;
    if (this.length + bytes > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(this.pending, this.length, 'utf8');
    this.pending = '';
  }
}

const SPACES = Array.from({ length: 64 }, (_, count) => ' '.repeat(count));

const BEST_INDENT = 2;
const BEST_WIDTH = 80;
const MAX_SIMPLE_KEY_LENGTH = 128;

interface ScalarAnalysis {
  multiline: boolean;
  flowPlainAllowed: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

type Style = 'plain' | 'single' | 'double' | 'literal';

/**
 * A port of the libyaml emitter (as in yaml.v2) for block-style documents made of mappings, sequences
 * and scalars: the column bookkeeping, indentation and scalar writers follow emitterc.go line by line.
 */
class Emitter {
  private readonly out = new OutputBuffer();
  private column = 0;
  private whitespace = true;
  private indention = true;
  private indent = -1;
  private readonly indents: number[] = [];
  private flowLevel = 0;
  private readonly keyOrders = new Map<string, string[]>();

  result(): string {
    return this.out.toString();
  }

  /** emit_node for a value; the context flags are those yaml_emitter_emit_node receives. */
  node(value: GoValue, context: { mapping: boolean; simpleKey: boolean }): void {
    if (Array.isArray(value)) {
      if (value.length === 0 || this.flowLevel > 0) this.flowSequence(value);
      else this.blockSequence(value, context.mapping);
    } else if (value !== null && typeof value === 'object') {
      const keys = this.sortedKeys(Object.keys(value).filter((key) => value[key] !== undefined));
      if (keys.length === 0 || this.flowLevel > 0) this.flowMapping(value, keys);
      else this.blockMapping(value, keys);
    } else {
      this.scalar(value, context.simpleKey);
    }
  }

  private blockSequence(items: GoValue[], mappingContext: boolean): void {
    this.increaseIndent(false, mappingContext && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.node(item, { mapping: false, simpleKey: false });
    }
    this.popIndent();
  }

  private blockMapping(map: { [key: string]: GoValue }, keys: string[]): void {
    this.increaseIndent(false, false);
    for (const key of keys) {
      this.writeIndent();
      const simple = plainWidth(key, true) !== undefined || !analyzeScalar(key).multiline;
      if (simple && Buffer.byteLength(key) <= MAX_SIMPLE_KEY_LENGTH) {
        this.node(key, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.node(key, { mapping: true, simpleKey: false });
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(map[key] ?? null, { mapping: true, simpleKey: false });
    }
    this.popIndent();
  }

  private flowSequence(items: GoValue[]): void {
    this.writeIndicator('[', true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    items.forEach((item, index) => {
      if (index > 0) this.writeIndicator(',', false, false, false);
      if (this.column > BEST_WIDTH) this.writeIndent();
      this.node(item, { mapping: false, simpleKey: false });
    });
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator(']', false, false, false);
  }

  private flowMapping(map: { [key: string]: GoValue }, keys: string[]): void {
    this.writeIndicator('{', true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    keys.forEach((key, index) => {
      if (index > 0) this.writeIndicator(',', false, false, false);
      if (this.column > BEST_WIDTH) this.writeIndent();
      this.node(key, { mapping: true, simpleKey: true });
      this.writeIndicator(':', false, false, false);
      this.node(map[key] ?? null, { mapping: true, simpleKey: false });
    });
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator('}', false, false, false);
  }

  /** Sorted keys, cached per key set: index entries share a handful of shapes. */
  private sortedKeys(keys: string[]): string[] {
    const signature = `${keys.length}\u0000${keys.join('\u0000')}`;
    let sorted = this.keyOrders.get(signature);
    if (sorted === undefined) {
      sorted = [...keys].sort(compareGoYamlKeys);
      this.keyOrders.set(signature, sorted);
    }
    return sorted;
  }

  private scalar(value: Exclude<GoValue, GoValue[] | object>, simpleKey: boolean): void {
    const text = scalarText(value);
    // Fast path (same output): a string yaml.v2 writes plain on one line, when no fold can happen in it.
    const plain = this.flowLevel === 0 ? plainWidth(text, typeof value === 'string') : undefined;
    if (
      plain !== undefined &&
      (simpleKey || !text.includes(' ') || this.column + 1 + plain <= BEST_WIDTH + 1)
    ) {
      if (!this.whitespace) this.put(' ');
      this.out.write(text);
      this.column += plain;
      this.whitespace = false;
      this.indention = false;
      return;
    }
    let style: Style;
    if (typeof value === 'string') {
      if (text.includes('\n')) style = 'literal';
      else style = resolvesToString(text) ? 'plain' : 'double';
    } else {
      style = 'plain';
    }
    // selectStyle only ever turns a style into double-quoted, so a double-quoted request needs no analysis.
    if (style !== 'double') style = this.selectStyle(style, text, simpleKey);
    this.increaseIndent(true, false);
    const allowBreaks = !simpleKey;
    if (style === 'plain') this.writePlain(text, allowBreaks);
    else if (style === 'single') this.writeSingleQuoted(text, allowBreaks);
    else if (style === 'double') this.writeDoubleQuoted(text, allowBreaks);
    else this.writeLiteral(text);
    this.popIndent();
  }

  private selectStyle(requested: Style, text: string, simpleKey: boolean): Style {
    const analysis = analyzeScalar(text);
    let style = requested;
    if (simpleKey && analysis.multiline) style = 'double';
    if (style === 'plain') {
      if (
        (this.flowLevel > 0 && !analysis.flowPlainAllowed) ||
        (this.flowLevel === 0 && !analysis.blockPlainAllowed)
      ) {
        style = 'single';
      }
      if (text.length === 0 && (this.flowLevel > 0 || simpleKey)) style = 'single';
    }
    if (style === 'single' && !analysis.singleQuotedAllowed) style = 'double';
    if (style === 'literal' && (!analysis.blockAllowed || this.flowLevel > 0 || simpleKey)) style = 'double';
    return style;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? -1;
  }

  private put(text: string): void {
    this.out.write(text);
    this.column++;
  }

  private putBreak(): void {
    this.out.write('\n');
    this.column = 0;
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) {
      this.putBreak();
    }
    if (this.column < indent) {
      this.out.spaces(indent - this.column);
      this.column = indent;
    }
    this.whitespace = true;
    this.indention = true;
  }

  private writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.out.write(indicator);
    this.column += indicator.length;
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  /** Writes one character that is a line break other than '\n' (yaml.v2 write_break). */
  private writeBreak(character: string): void {
    if (character === '\n') this.putBreak();
    else {
      this.out.write(character);
      this.column = 0;
    }
  }

  /** Plain scalars never hold line breaks (the analysis forbids it), so this writes word by word. */
  private writePlain(text: string, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    let spaces = false;
    let i = 0;
    while (i < text.length) {
      if (text[i] === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && text[i + 1] !== ' ') this.writeIndent();
        else this.put(' ');
        spaces = true;
        i++;
      } else {
        const end = text.indexOf(' ', i);
        const word = end === -1 ? text.slice(i) : text.slice(i, end);
        this.out.write(word);
        this.column += codePointLength(word);
        this.indention = false;
        spaces = false;
        i += word.length;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  private writeSingleQuoted(text: string, allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    const chars = Array.from(text);
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === ' ') {
        if (
          allowBreaks &&
          !spaces &&
          this.column > BEST_WIDTH &&
          i > 0 &&
          i < chars.length - 1 &&
          chars[i + 1] !== ' '
        ) {
          this.writeIndent();
        } else {
          this.put(c);
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === '\n') this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === "'") this.put("'");
        this.put(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDoubleQuoted(text: string, allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    if (PRINTABLE_ASCII_WORD.test(text)) {
      // Nothing to escape and no space to fold at.
      this.out.write(text);
      this.out.write('"');
      this.column += text.length + 1;
      this.whitespace = false;
      this.indention = false;
      return;
    }
    const chars = Array.from(text);
    const startsWithBom = chars[0] === '\uFEFF';
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (!isPrintable(c) || startsWithBom || isBreak(c) || c === '"' || c === '\\') {
        this.put('\\');
        const shortEscape = ESCAPES.get(c);
        if (shortEscape !== undefined) this.put(shortEscape);
        else {
          const code = codePoint(c);
          const [letter, width] = code <= 0xff ? ['x', 2] : code <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter);
          for (const digit of code.toString(16).toUpperCase().padStart(width, '0')) this.put(digit);
        }
        spaces = false;
      } else if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (chars[i + 1] === ' ') this.put('\\');
        } else {
          this.put(c);
        }
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(text: string): void {
    this.writeIndicator('|', true, false, false);
    const chars = Array.from(text);
    if (chars[0] === ' ' || isBreak(chars[0] ?? '')) {
      this.writeIndicator(String(BEST_INDENT), false, false, false);
    }
    const last = chars[chars.length - 1] ?? '';
    let chomp = '';
    if (chars.length === 0 || !isBreak(last)) chomp = '-';
    else if (chars.length === 1 || isBreak(chars[chars.length - 2] ?? '')) chomp = '+';
    if (chomp !== '') this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of chars) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/** ASCII strings that libyaml's analysis always allows in plain block style (no spaces, no indicators at the start, no trailing ':'). */
const SIMPLE_PLAIN = /^[A-Za-z0-9_/][A-Za-z0-9_./+=~:@%?&,-]*(?<!:)$/;
const PRINTABLE_ASCII_WORD = /^[\x21\x23-\x5b\x5d-\x7e]*$/;
const plainWidths = new Map<string, number | undefined>();
const MAX_CACHED_PLAIN = 10_000;

/**
 * For a scalar that yaml.v2 writes in plain style in block context (and that has no line break), its
 * width in columns; undefined when it needs quotes or a block style. Cached: index values repeat a lot.
 */
function plainWidth(text: string, isString: boolean): number | undefined {
  if (SIMPLE_PLAIN.test(text)) return !isString || resolvesToString(text) ? text.length : undefined;
  const key = isString ? text : `\u0000${text}`;
  if (plainWidths.has(key)) return plainWidths.get(key);
  let width: number | undefined;
  if (text.length > 0 && (!isString || resolvesToString(text))) {
    const analysis = analyzeScalar(text);
    if (analysis.blockPlainAllowed && !analysis.multiline) width = Array.from(text).length;
  }
  if (plainWidths.size >= MAX_CACHED_PLAIN) plainWidths.clear();
  plainWidths.set(key, width);
  return width;
}

const ESCAPES = new Map<string, string>([
  ['\0', '0'],
  ['\x07', 'a'],
  ['\b', 'b'],
  ['\t', 't'],
  ['\n', 'n'],
  ['\v', 'v'],
  ['\f', 'f'],
  ['\r', 'r'],
  ['\x1b', 'e'],
  ['"', '"'],
  ['\\', '\\'],
  ['\x85', 'N'],
  ['\xa0', '_'],
  ['\u2028', 'L'],
  ['\u2029', 'P'],
]);

function isBreak(c: string): boolean {
  return c === '\n' || c === '\r' || c === '\x85' || c === '\u2028' || c === '\u2029';
}

/** libyaml is_printable on one character (yaml.v2 never emits supplementary-plane characters raw). */
function isPrintable(c: string): boolean {
  const code = codePoint(c);
  return (
    code === 0x0a ||
    (code >= 0x20 && code <= 0x7e) ||
    (code >= 0xa0 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd && code !== 0xfeff)
  );
}

/** yaml_emitter_analyze_scalar. */
function analyzeScalar(text: string): ScalarAnalysis {
  if (text.length === 0) {
    return {
      multiline: false,
      flowPlainAllowed: false,
      blockPlainAllowed: true,
      singleQuotedAllowed: true,
      blockAllowed: false,
    };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  if (text.startsWith('---') || text.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  const chars = Array.from(text);
  let precededByWhitespace = true;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    const next = chars[i + 1];
    const followedByWhitespace = next === undefined || next === ' ' || next === '\t';
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (c === '?' || c === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (c === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else if (',?[]{}'.includes(c)) {
      flowIndicators = true;
    } else if (c === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (c === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    if (!isPrintable(c)) specialCharacters = true;
    if (c === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = c === ' ' || c === '\t' || isBreak(c) || c === '\0';
  }
  const analysis: ScalarAnalysis = {
    multiline: lineBreaks,
    flowPlainAllowed: true,
    blockPlainAllowed: true,
    singleQuotedAllowed: true,
    blockAllowed: true,
  };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    analysis.flowPlainAllowed = false;
    analysis.blockPlainAllowed = false;
  }
  if (trailingSpace) analysis.blockAllowed = false;
  if (breakSpace) {
    analysis.flowPlainAllowed = false;
    analysis.blockPlainAllowed = false;
    analysis.singleQuotedAllowed = false;
  }
  if (spaceBreak || specialCharacters) {
    analysis.flowPlainAllowed = false;
    analysis.blockPlainAllowed = false;
    analysis.singleQuotedAllowed = false;
    analysis.blockAllowed = false;
  }
  if (lineBreaks) {
    analysis.flowPlainAllowed = false;
    analysis.blockPlainAllowed = false;
  }
  if (flowIndicators) analysis.flowPlainAllowed = false;
  if (blockIndicators) analysis.blockPlainAllowed = false;
  return analysis;
}

/** How yaml.v2 marshals a non-string scalar (after Go's JSON round trip). */
function scalarText(value: Exclude<GoValue, GoValue[] | object>): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return BigInt(value).toString();
  if (Number.isNaN(value)) return '.nan';
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
  return formatGoFloat(value, 64);
}

/** Marshals a document the way sigs.k8s.io/yaml.Marshal (yaml.v2 underneath) does. */
export function emitGoYaml(document: GoValue): string {
  const emitter = new Emitter();
  emitter.node(document, { mapping: false, simpleKey: false });
  const text = emitter.result();
  return text.endsWith('\n') ? text : `${text}\n`;
}
