import type { ChartVersionEntry, IndexFile } from '../types';
import { firstUrl, serializeIndex } from './index-file';

/** What a rebuild changes, as `name@version`. */
export interface IndexDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Chart versions added, removed, or with another digest or URL, as `name@version`. */
export function diffIndexes(before: IndexFile | undefined, after: IndexFile): IndexDiff {
  const flatten = (index: IndexFile | undefined): Map<string, ChartVersionEntry> =>
    new Map(
      Object.values(index?.entries ?? {}).flatMap((versions) =>
        (versions ?? []).map((entry) => [`${entry.name}@${entry.version}`, entry] as const),
      ),
    );
  const old = flatten(before);
  const next = flatten(after);
  const diff: IndexDiff = { added: [], removed: [], changed: [] };
  for (const [id, entry] of next) {
    const was = old.get(id);
    if (!was) diff.added.push(id);
    else if (was.digest !== entry.digest || firstUrl(was) !== firstUrl(entry)) diff.changed.push(id);
  }
  for (const id of old.keys()) if (!next.has(id)) diff.removed.push(id);
  return diff;
}

/** Equal apart from `generated`: entries, their order and times, serverInfo and annotations. */
export function sameContent(a: IndexFile, b: IndexFile): boolean {
  return serializeIndex({ ...a, generated: '' }) === serializeIndex({ ...b, generated: '' });
}
