import { compareGoYamlKeys, resolvePlain } from '../yaml/go-yaml';

/**
 * An incremental update touches one or two chart names, yet parsing and re-emitting a 10,000-version
 * index costs hundreds of milliseconds. When index.yaml is in the layout `helm repo index` and this
 * indexer write (`apiVersion`, `entries` with one block per chart name in yaml.v2 key order, then
 * `generated` last, nothing else), an update parses only the blocks it may change and copies every other
 * block byte for byte. Any other layout (annotations, serverInfo, JSON, hand-made formatting) returns
 * undefined here and takes the full parse.
 *
 * It works on the stored bytes, never on a decoded string: blocks are views into the body's buffer, and
 * the new index is one buffer of the untouched views and the re-written blocks. An update then holds
 * the index about twice (the body read and the body written), whatever characters it contains (a JS
 * string of non-Latin-1 text takes two bytes per character).
 */

const HEAD = Buffer.from('apiVersion: v1\nentries:\n');
const EMPTY_HEAD = Buffer.from('apiVersion: v1\nentries: {}\n');
const GENERATED = 'generated: ';
const NEWLINE = 10;
const SPACE = 32;
const DASH = 45;
const CARRIAGE_RETURN = 13;
/** A chart name that yaml.v2 writes as a plain key; anything that needs quotes is left to the full path. */
const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export interface IndexLayout {
  /** Chart name and its block under `entries:` (header line included, a view of the body), in file order. */
  blocks: Array<[name: string, block: Buffer]>;
  /** The last line, `generated: ...\n`. */
  generatedLine: string;
}

/** What an update may change: the chart names it writes and the URLs it adds or removes. */
export interface IndexFocus {
  names: Iterable<string>;
  urls: Iterable<string>;
}

/** The blocks of a canonically laid out index, or undefined when the layout is anything else. */
export function splitIndexLayout(text: Buffer | string): IndexLayout | undefined {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const empty = startsWith(bytes, EMPTY_HEAD);
  if (!empty && !startsWith(bytes, HEAD)) return undefined;
  if (bytes[bytes.length - 1] !== NEWLINE || bytes.includes(CARRIAGE_RETURN)) return undefined;
  const bodyStart = empty ? EMPTY_HEAD.length : HEAD.length;
  const generatedAt = startsWith(bytes, GENERATED, bodyStart)
    ? bodyStart
    : bytes.lastIndexOf(`\n${GENERATED}`) + 1;
  if (generatedAt <= bodyStart && !startsWith(bytes, GENERATED, bodyStart)) return undefined;
  if (bytes.indexOf(NEWLINE, generatedAt) !== bytes.length - 1) return undefined;
  const generatedLine = bytes.toString('utf8', generatedAt);
  if (empty) return generatedAt === bodyStart ? { blocks: [], generatedLine } : undefined;

  const blocks: Array<[string, Buffer]> = [];
  let blockStart = -1;
  let name = '';
  for (let pos = bodyStart; pos < generatedAt; ) {
    const end = bytes.indexOf(NEWLINE, pos) + 1;
    // yaml.v2 writes the empty lines of a literal block scalar with no indentation.
    if (end === pos + 1 && blockStart >= 0) {
      pos = end;
      continue;
    }
    const isIndented = bytes[pos] === SPACE && bytes[pos + 1] === SPACE;
    const third = bytes[pos + 2];
    if (!isIndented) return undefined;
    if (third !== SPACE && third !== DASH) {
      const key = headerKey(bytes.toString('utf8', pos, end - 1));
      if (key === undefined) return undefined;
      if (blockStart >= 0) {
        if (compareGoYamlKeys(name, key) >= 0) return undefined;
        blocks.push([name, bytes.subarray(blockStart, pos)]);
      }
      blockStart = pos;
      name = key;
    } else if (blockStart < 0) {
      return undefined;
    }
    pos = end;
  }
  if (blockStart < 0) return undefined;
  blocks.push([name, bytes.subarray(blockStart, generatedAt)]);
  // A chart name with no versions is written `name: []` on its header line, which headerKey refuses.
  return { blocks, generatedLine };
}

function startsWith(bytes: Buffer, prefix: Buffer | string, at = 0): boolean {
  const wanted = typeof prefix === 'string' ? Buffer.from(prefix) : prefix;
  return (
    bytes.length - at >= wanted.length &&
    bytes.compare(wanted, 0, wanted.length, at, at + wanted.length) === 0
  );
}

function headerKey(line: string): string | undefined {
  if (!line.endsWith(':')) return undefined;
  const key = line.slice(2, -1);
  if (!PLAIN_KEY.test(key) || resolvePlain(key).tag !== 'str') return undefined;
  return key;
}

/** The index text holding only the blocks an update may change, and the names of those blocks. */
export function focusedText(
  layout: IndexLayout,
  focus: IndexFocus,
): { text: string; names: Set<string> } | undefined {
  const names = new Set(focus.names);
  const urls = [...focus.urls];
  // A URL is found by substring; one that YAML could escape or quote differently is left to the full path.
  if (urls.some((url) => !/^[\x21-\x7e]+$/.test(url) || url.includes('"') || url.includes('\\'))) {
    return undefined;
  }
  const kept = layout.blocks.filter(
    ([name, block]) => names.has(name) || urls.some((url) => block.includes(url)),
  );
  const focused = new Set(kept.map(([name]) => name));
  const head = kept.length > 0 ? HEAD : EMPTY_HEAD;
  return {
    text:
      head.toString('utf8') + kept.map(([, block]) => block.toString('utf8')).join('') + layout.generatedLine,
    names: focused,
  };
}

/**
 * The whole index after an update: the blocks outside the focus as they were, the focused part as
 * `updatedText` (the serialized result of the update) has it. Undefined if they cannot be combined.
 *
 * `room`, when given, is the whole allocation the layout's blocks are views of (the stored body plus
 * spare bytes after it). If the result fits in it, it is assembled there in place and returned as a
 * view of it, so an update never holds a second copy of the index; the layout is then spent. Otherwise
 * (or without `room`) the result is a new buffer and the layout is untouched.
 */
export function mergeFocused(
  layout: IndexLayout,
  focused: Set<string>,
  updatedText: string,
  room?: Buffer,
): Buffer | undefined {
  const updated = splitIndexLayout(updatedText);
  if (!updated) return undefined;
  const untouched = layout.blocks.filter(([name]) => !focused.has(name));
  const untouchedNames = new Set(untouched.map(([name]) => name));
  if (updated.blocks.some(([name]) => untouchedNames.has(name))) return undefined;
  const merged = [...untouched, ...updated.blocks].sort(([a], [b]) => compareGoYamlKeys(a, b));
  const head = merged.length > 0 ? HEAD : EMPTY_HEAD;
  const generated = Buffer.from(updated.generatedLine);
  const blocks = merged.map(([, block]) => block);
  const total = head.length + blocks.reduce((sum, block) => sum + block.length, 0) + generated.length;
  if (room !== undefined && total <= room.length && untouched.every(([, block]) => within(room, block))) {
    return assembleInPlace(room, head, blocks, new Set(untouched.map(([, block]) => block)), generated);
  }
  return Buffer.concat([head, ...blocks, generated]);
}

function within(room: Buffer, view: Buffer): boolean {
  return (
    view.buffer === room.buffer &&
    view.byteOffset >= room.byteOffset &&
    view.byteOffset + view.length <= room.byteOffset + room.length
  );
}

/**
 * Moves each untouched block from where it is in `room` to where it goes, then writes the head, the
 * updated blocks and the generated line. Blocks keep their relative order, so moving the ones that go
 * left first to last, then the ones that go right last to first, never overwrites a block not yet moved.
 */
function assembleInPlace(
  room: Buffer,
  head: Buffer,
  blocks: Buffer[],
  untouched: Set<Buffer>,
  generated: Buffer,
): Buffer {
  const moves: Array<{ from: number; to: number; length: number }> = [];
  const writes: Array<{ to: number; bytes: Buffer }> = [{ to: 0, bytes: head }];
  let offset = head.length;
  for (const block of blocks) {
    if (untouched.has(block))
      moves.push({ from: block.byteOffset - room.byteOffset, to: offset, length: block.length });
    else writes.push({ to: offset, bytes: block });
    offset += block.length;
  }
  writes.push({ to: offset, bytes: generated });
  for (const move of moves) {
    if (move.to < move.from) room.copyWithin(move.to, move.from, move.from + move.length);
  }
  for (const move of moves.reverse()) {
    if (move.to > move.from) room.copyWithin(move.to, move.from, move.from + move.length);
  }
  for (const write of writes) write.bytes.copy(room, write.to);
  return room.subarray(0, offset + generated.length);
}
