import { IndexTooLargeError } from '../../errors';

/**
 * How large an index one invocation can update, from the function's memory, so that an index grown
 * past it is refused with a clear error before its body is read, not by the runtime killing the
 * function mid-update (on every retry). The factors are the peak memory an update adds per byte of
 * index, measured by `npm run bench` (bench/results/indexer-results.md) with a margin over them:
 * - focused: an index this indexer wrote (stamped, helm's layout), only the touched chart blocks
 *   parsed; the body read and the body written are each held once (index-layout.ts).
 * - whole: any other index (written by helm or by hand, JSON, or unstamped), parsed into objects and
 *   written whole, as helm does.
 */
export type UpdatePath = 'focused' | 'whole';

/**
 * Bytes of memory an update adds per byte of index, by path. Measured on a 57 MB index (198,473
 * versions): focused 2.5×, whole-file YAML 16.6×, JSON 18.7×; focused is held to the 3× target, whole
 * (YAML or JSON) gets about 30% over the worst measured.
 */
export const MEMORY_PER_INDEX_BYTE: Record<UpdatePath, number> = { focused: 3, whole: 24 };
/** Memory kept for the runtime, the SDK, the code and the chart archive being read. */
export const RUNTIME_RESERVE_MB = 200;

const MB = 1024 * 1024;

/** The largest index (bytes) a function with `memoryMb` can update on `path`. */
export function maxIndexBytes(memoryMb: number, path: UpdatePath): number {
  return Math.max(0, Math.floor(((memoryMb - RUNTIME_RESERVE_MB) * MB) / MEMORY_PER_INDEX_BYTE[path]));
}

/** Throws IndexTooLargeError when an index of `bytes` cannot be updated within `memoryMb` on `path`. */
export function checkIndexFits(
  location: { bucket: string; key: string },
  bytes: number,
  memoryMb: number,
  path: UpdatePath,
): void {
  const limit = maxIndexBytes(memoryMb, path);
  if (bytes <= limit) return;
  const needMb = Math.ceil((bytes * MEMORY_PER_INDEX_BYTE[path]) / MB + RUNTIME_RESERVE_MB);
  const how =
    path === 'focused'
      ? 'updates an index this indexer wrote'
      : 'updates an index it did not write itself (or a JSON one), which it must parse whole';
  throw new IndexTooLargeError(
    `the index s3://${location.bucket}/${location.key} is ${formatMb(bytes)} MB; with ${memoryMb} MB of ` +
      `memory this function ${how} of at most ${formatMb(limit)} MB. It was left unchanged. Raise the ` +
      `indexer's memory to at least ${needMb} MB (stage value chartIndexerMemoryMb, at most 10240), or ` +
      'make the index smaller (delete old chart versions)' +
      (path === 'whole'
        ? '. With chartIndexFormat yaml, once this indexer has written the index (for example a rebuild ' +
          'from a machine with enough memory: `tsx scripts/reindex.ts rebuild`), updates parse only the ' +
          'charts they touch and need about a tenth of this'
        : ''),
  );
}

function formatMb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}
