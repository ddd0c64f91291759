import { TarFormatError } from '../../errors';
/**
 * A small push-style tar reader: feed it decompressed chunks, it reports each entry's header and hands
 * the entry's bytes to the caller only when the caller asked for them (up to a limit), so memory stays
 * bounded whatever the archive holds. Understands what Go's archive/tar (and so Helm) understands in
 * chart archives: ustar/GNU headers, the ustar name prefix, GNU long names, PAX `path` records, base-256
 * sizes; it checks header checksums.
 */

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** Raw typeflag character, for messages. */
  typeflag: string;
  size: number;
}

/** What to do with an entry's bytes: skip them, or collect them (the whole entry must fit in `maxBytes`). */
export type TarEntryDecision = { collect: false } | { collect: true; maxBytes: number };

export interface TarVisitor {
  entry(entry: TarEntry): TarEntryDecision;
  /** The collected bytes of an entry whose decision was `collect`. */
  data(entry: TarEntry, bytes: Buffer): void;
}

const BLOCK = 512;
/** Longest GNU long name or PAX header accepted (Go's archive/tar allows 1 MiB). */
const MAX_META_BYTES = 1024 * 1024;

type State =
  | { kind: 'header' }
  | {
      kind: 'body';
      entry: TarEntry;
      remaining: number;
      padding: number;
      collect: Buffer[] | undefined;
      meta?: 'L' | 'x' | 'K';
    }
  | { kind: 'padding'; remaining: number }
  | { kind: 'end' };

export class TarReader {
  private state: State = { kind: 'header' };
  private pending: Buffer = Buffer.alloc(0);
  private longName: string | undefined;
  private paxPath: string | undefined;
  private zeroBlocks = 0;

  constructor(private readonly visitor: TarVisitor) {}

  /** True once the end-of-archive marker has been read; later bytes are ignored. */
  get ended(): boolean {
    return this.state.kind === 'end';
  }

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0 && this.state.kind !== 'end') {
      const state = this.state;
      if (state.kind === 'header') {
        if (data.length < BLOCK) {
          this.pending = Buffer.from(data);
          return;
        }
        this.header(data.subarray(0, BLOCK));
        data = data.subarray(BLOCK);
      } else if (state.kind === 'body') {
        const take = Math.min(state.remaining, data.length);
        state.collect?.push(Buffer.from(data.subarray(0, take)));
        state.remaining -= take;
        data = data.subarray(take);
        if (state.remaining === 0) this.finishBody(state);
      } else if (state.kind === 'padding') {
        const take = Math.min(state.remaining, data.length);
        state.remaining -= take;
        data = data.subarray(take);
        if (state.remaining === 0) this.state = { kind: 'header' };
      }
    }
  }

  /** Called at the end of the decompressed stream: a missing end marker after a whole entry is tolerated, as Go does. */
  finish(): void {
    if (this.state.kind === 'end') return;
    if (this.state.kind !== 'header' || this.pending.length > 0) {
      throw new TarFormatError('the tar archive is truncated');
    }
  }

  private header(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = { kind: 'end' };
      return;
    }
    if (this.zeroBlocks > 0)
      throw new TarFormatError('the tar archive has data after an end-of-archive block');
    if (!checksumMatches(block)) throw new TarFormatError('a tar header has an invalid checksum');
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const size = parseNumeric(block.subarray(124, 136));
    if (size === undefined || size < 0) throw new TarFormatError('a tar header has an invalid size');
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x') {
      if (size > MAX_META_BYTES) throw new TarFormatError('a tar extended header is too large');
      const entry: TarEntry = { name: '', type: 'other', typeflag, size };
      this.startBody({ kind: 'body', entry, remaining: size, padding, collect: [], meta: typeflag });
      return;
    }
    let name = readString(block.subarray(0, 100));
    const magic = block.subarray(257, 263).toString('latin1');
    if (magic === 'ustar\u0000') {
      const prefix = readString(block.subarray(345, 500));
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    if (this.longName !== undefined) name = this.longName;
    if (this.paxPath !== undefined) name = this.paxPath;
    this.longName = undefined;
    this.paxPath = undefined;
    const entry: TarEntry = { name, type: entryType(typeflag, name), typeflag, size };
    const decision = this.visitor.entry(entry);
    let collect: Buffer[] | undefined;
    if (decision.collect) {
      if (size > decision.maxBytes)
        throw new TarFormatError(`"${name}" is larger than ${decision.maxBytes} bytes`);
      collect = [];
    }
    this.startBody({ kind: 'body', entry, remaining: size, padding, collect });
  }

  private startBody(state: Extract<State, { kind: 'body' }>): void {
    if (state.remaining === 0) this.finishBody(state);
    else this.state = state;
  }

  private finishBody(state: Extract<State, { kind: 'body' }>): void {
    const bytes = state.collect === undefined ? undefined : Buffer.concat(state.collect);
    if (state.meta === 'L' && bytes !== undefined) this.longName = readString(bytes);
    else if (state.meta === 'x' && bytes !== undefined) {
      const path = parsePax(bytes).get('path');
      if (path !== undefined) this.paxPath = path;
    } else if (state.meta === undefined && bytes !== undefined) {
      this.visitor.data(state.entry, bytes);
    }
    this.state = state.padding > 0 ? { kind: 'padding', remaining: state.padding } : { kind: 'header' };
  }
}

function entryType(typeflag: string, name: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '\u0000':
    case '7':
      // Old tar writers mark directories only with a trailing slash (Go's FileInfo().IsDir() does the same).
      return name.endsWith('/') ? 'directory' : 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

function readString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** Octal (possibly space/NUL padded) or GNU base-256 numeric field. */
function parseNumeric(field: Buffer): number | undefined {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    if ((field[0] ?? 0) & 0x40) return undefined;
    let value = BigInt((field[0] ?? 0) & 0x3f);
    for (const byte of field.subarray(1)) value = (value << 8n) | BigInt(byte);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
  }
  let end = field.length;
  while (end > 0 && (field[end - 1] === 0 || field[end - 1] === 0x20)) end--;
  const text = field.subarray(0, end).toString('latin1').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return Number.parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const recorded = parseNumeric(block.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < BLOCK; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : (block[index] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return recorded === unsigned || recorded === signed;
}

/** PAX records: "<length> <key>=<value>\n". */
function parsePax(bytes: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < bytes.length) {
    const space = bytes.indexOf(0x20, offset);
    if (space === -1) throw new TarFormatError('a PAX header is malformed');
    const length = Number(bytes.subarray(offset, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - offset || offset + length > bytes.length) {
      throw new TarFormatError('a PAX header is malformed');
    }
    const record = bytes.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals === -1) throw new TarFormatError('a PAX header is malformed');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}
