import { compareGoYamlKeys, resolvePlain } from '../yaml/go-yaml';

/**
 * An incremental update touches one or two chart names, yet parsing and re-emitting a 10,000-version
 * index costs hundreds of milliseconds. When index.yaml is in the layout `helm repo index` and this
 * indexer write (`apiVersion`, `entries` with one block per chart name in yaml.v2 key order, then
 * `generated` last, nothing else), an update parses only the blocks it may change and copies every other
 * block byte for byte. Any other layout (annotations, serverInfo, JSON, hand-made formatting) returns
 * undefined here and takes the full parse.
 */

const HEAD = 'apiVersion: v1\nentries:\n';
const EMPTY_HEAD = 'apiVersion: v1\nentries: {}\n';
const GENERATED = 'generated: ';
/** A chart name that yaml.v2 writes as a plain key; anything that needs quotes is left to the full path. */
const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export interface IndexLayout {
  /** Chart name and its block under `entries:` (header line included), in file order. */
  blocks: Array<[name: string, block: string]>;
  /** The last line, `generated: ...\n`. */
  generatedLine: string;
}

/** What an update may change: the chart names it writes and the URLs it adds or removes. */
export interface IndexFocus {
  names: Iterable<string>;
  urls: Iterable<string>;
}

/** The blocks of a canonically laid out index, or undefined when the layout is anything else. */
export function splitIndexLayout(text: string): IndexLayout | undefined {
  const empty = text.startsWith(EMPTY_HEAD);
  if (!empty && !text.startsWith(HEAD)) return undefined;
  if (!text.endsWith('\n') || text.includes('\r')) return undefined;
  const body = text.slice(empty ? EMPTY_HEAD.length : HEAD.length);
  const generatedAt = body.startsWith(GENERATED) ? 0 : body.lastIndexOf(`\n${GENERATED}`) + 1;
  if (generatedAt === 0 && !body.startsWith(GENERATED)) return undefined;
  const generatedLine = body.slice(generatedAt);
  if (generatedLine.indexOf('\n') !== generatedLine.length - 1) return undefined;
  if (empty) return generatedAt === 0 ? { blocks: [], generatedLine } : undefined;

  const blocks: Array<[string, string]> = [];
  let blockStart = -1;
  let name = '';
  for (let pos = 0; pos < generatedAt; ) {
    const end = body.indexOf('\n', pos) + 1;
    // yaml.v2 writes the empty lines of a literal block scalar with no indentation.
    if (end === pos + 1 && blockStart >= 0) {
      pos = end;
      continue;
    }
    const isIndented = body.charCodeAt(pos) === 32 && body.charCodeAt(pos + 1) === 32;
    const third = body.charCodeAt(pos + 2);
    if (!isIndented) return undefined;
    if (third !== 32 && third !== 45 /* '-' */) {
      const key = headerKey(body.slice(pos, end - 1));
      if (key === undefined) return undefined;
      if (blockStart >= 0) {
        if (compareGoYamlKeys(name, key) >= 0) return undefined;
        blocks.push([name, body.slice(blockStart, pos)]);
      }
      blockStart = pos;
      name = key;
    } else if (blockStart < 0) {
      return undefined;
    }
    pos = end;
  }
  if (blockStart < 0) return undefined;
  blocks.push([name, body.slice(blockStart, generatedAt)]);
  // A chart name with no versions is written `name: []` on its header line, which headerKey refuses.
  return { blocks, generatedLine };
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
  return { text: head + kept.map(([, block]) => block).join('') + layout.generatedLine, names: focused };
}

/**
 * The whole index after an update: the blocks outside the focus as they were, the focused part as
 * `updatedText` (the serialized result of the update) has it. Undefined if they cannot be combined.
 */
export function mergeFocused(
  layout: IndexLayout,
  focused: Set<string>,
  updatedText: string,
): string | undefined {
  const updated = splitIndexLayout(updatedText);
  if (!updated) return undefined;
  const untouched = layout.blocks.filter(([name]) => !focused.has(name));
  const untouchedNames = new Set(untouched.map(([name]) => name));
  if (updated.blocks.some(([name]) => untouchedNames.has(name))) return undefined;
  const merged = [...untouched, ...updated.blocks].sort(([a], [b]) => compareGoYamlKeys(a, b));
  const head = merged.length > 0 ? HEAD : EMPTY_HEAD;
  return head + merged.map(([, block]) => block).join('') + updated.generatedLine;
}
