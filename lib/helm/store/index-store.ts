import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  AwsCallError,
  awsErrorCode,
  IndexFormatError,
  IrsaReconcilerError,
  isNotFound,
  toAwsCallError,
} from '../../errors';
import { type Logger, silentLogger } from '../../observability/logger';
import type { IndexFormat } from '../config';
import { parseIndex, serializeIndex } from '../repo/index-file';
import { serializeIndexJson } from '../repo/index-json';
import {
  focusedText,
  type IndexFocus,
  type IndexLayout,
  mergeFocused,
  splitIndexLayout,
} from '../repo/index-layout';
import type { IndexFile } from '../types';
import { checkIndexFits, type UpdatePath } from './index-budget';

/**
 * index.yaml in S3 as a compare-and-swap register: read it with its ETag, write it back only if it is
 * still that version (`If-Match`), or only if there is none yet (`If-None-Match: *`). A lost race is
 * re-read and re-decided, never overwritten.
 */

export interface IndexLocation {
  bucket: string;
  key: string;
}

/** The index as observed: absent, readable, or present but unreadable (never to be replaced silently). */
export type StoredIndex =
  | { state: 'absent' }
  | {
      state: 'readable';
      etag: string;
      index: IndexFile;
      /** Set when `index` holds only the focused chart names; the rest of the file is kept as text. */
      partial?: { layout: IndexLayout; names: Set<string>; room?: Buffer };
    }
  | { state: 'unreadable'; etag: string; error: IndexFormatError };

export interface ConditionalWriteOptions {
  /**
   * A cap on attempts, the first included; each attempt re-reads the index. Without it, attempts go on
   * while `timeLeftMs` allows, or DEFAULT_WRITE_ATTEMPTS when there is no time bound either.
   */
  maxAttempts?: number;
  /**
   * Time left in the invocation (Lambda's getRemainingTimeInMillis). Another attempt is made only if,
   * after its backoff, there is still room for it and for finishing: three times the slowest attempt
   * so far plus FINISH_RESERVE_MS. A burst of publishers then settles within the invocation, not in retries.
   */
  timeLeftMs?: () => number;
  /** Decorrelated jitter: each delay is random between baseDelayMs and 3× the previous, at most maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /** How the index is written (either form is read). Default yaml. */
  format?: IndexFormat;
  /**
   * The chart names and URLs the decision may change, read at each attempt. When given, and the index
   * is laid out as Helm writes it, only those names are parsed and the decision sees only them.
   */
  focus?: () => IndexFocus;
  /**
   * The function's memory (Lambda's memoryLimitInMB). When given, an index too large to update within
   * it is refused before its body is read (IndexTooLargeError), rather than running out of memory.
   */
  memoryMb?: number;
}

export interface ConditionalWriteResult {
  outcome: 'none' | 'created' | 'updated';
  /** Index reads (one per attempt). */
  attempts: number;
  /** Writes refused because someone else wrote first. */
  conflicts: number;
  /**
   * The write's response was lost (a network error or 5xx, or a 412 on the SDK's own retry of a write
   * that had landed), and reading the index back showed it holds exactly what was written.
   */
  confirmedByReadBack?: boolean;
  /** The index as written, when written (with `focus`, possibly only its focused chart names). */
  index?: IndexFile;
}

/**
 * Decides the next index from the one observed; `undefined` means "nothing to change" and ends the
 * update without a write. Called again with a fresh read after each conflict, so it must be pure with
 * respect to the index (it may cache anything else, e.g. charts already read).
 */
export type DecideNextIndex = (current: StoredIndex, attempt: number) => Promise<IndexFile | undefined>;

export const INDEX_CONTENT_TYPE = 'application/yaml; charset=utf-8';
const CONTENT_TYPES: Record<IndexFormat, string> = {
  yaml: INDEX_CONTENT_TYPE,
  json: 'application/json; charset=utf-8',
};

/** The index text in the given form. */
export function writeIndexText(index: IndexFile, format: IndexFormat = 'yaml'): string {
  return format === 'json' ? serializeIndexJson(index) : serializeIndex(index);
}
export const DEFAULT_WRITE_ATTEMPTS = 10;
/**
 * S3 user metadata on every index this indexer writes: the SHA-256 of the body. A body that matches it
 * is exactly this serializer's output (helm's layout, every entry valid, every chart sorted), so an
 * update may parse only the blocks it touches and copy the rest byte for byte. Any other body (written
 * by helm or another tool, edited by hand, or from before the stamp) is parsed whole, as helm would.
 */
export const WRITTEN_DIGEST_METADATA = 'irsa-reconciler-sha256';
/** Time kept after the last attempt for the checks after the write and for reporting. */
export const FINISH_RESERVE_MS = 2_000;

export async function readIndex(
  s3: S3Client,
  location: IndexLocation,
  focus?: IndexFocus,
): Promise<StoredIndex> {
  const stored = await fetchIndexBody(s3, location);
  return stored === undefined ? { state: 'absent' } : decodeStored(stored, location, focus);
}

interface StoredBody {
  etag: string;
  /** The object's bytes, read once into one buffer (never a string: see index-layout.ts). */
  body: Buffer;
  /** The allocation `body` is the start of, with spare bytes after it for an update in place. */
  room?: Buffer;
  /** WRITTEN_DIGEST_METADATA of the object, if any. */
  writtenDigest?: string;
}

function bodyDigest(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The S3 user metadata written with an index body (see WRITTEN_DIGEST_METADATA). */
export function writtenIndexMetadata(body: string | Uint8Array): Record<string, string> {
  return { [WRITTEN_DIGEST_METADATA]: bodyDigest(body) };
}

/**
 * GETs the index. With a memory budget, its size (known from the headers) is checked against what the
 * update path it will take can hold before any of the body is read.
 */
async function fetchIndexBody(
  s3: S3Client,
  location: IndexLocation,
  budget?: { memoryMb: number; path: (stamped: boolean) => UpdatePath },
): Promise<StoredBody | undefined> {
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw toAwsCallError('S3:GetObject', error);
  }
  const writtenDigest = response.Metadata?.[WRITTEN_DIGEST_METADATA];
  try {
    if (!response.Body || !response.ETag) throw new Error('GetObject returned no body or no ETag');
    if (budget && response.ContentLength !== undefined) {
      checkIndexFits(
        location,
        response.ContentLength,
        budget.memoryMb,
        budget.path(writtenDigest !== undefined),
      );
    }
    const { body, room } = await readBody(response.Body as AsyncIterable<Uint8Array>, response.ContentLength);
    return {
      etag: response.ETag,
      body,
      ...(room ? { room } : {}),
      ...(writtenDigest === undefined ? {} : { writtenDigest }),
    };
  } catch (error) {
    (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
    if (error instanceof IrsaReconcilerError) throw error;
    throw toAwsCallError('S3:GetObject', error);
  }
}

/**
 * Spare bytes allocated after a body, so that an update (one chart's entry is at most the 4 MiB
 * metadata cap) is assembled in the same buffer. Pages never written are never resident.
 */
export const UPDATE_ROOM_BYTES = 8 * 1024 * 1024;

/**
 * The body in one buffer. With the length known it is allocated once (with UPDATE_ROOM_BYTES to spare,
 * unpooled, so that writing past the body touches nothing else) and each chunk is copied in as it
 * arrives: the index is held once, not as chunks plus their concatenation.
 */
async function readBody(
  stream: AsyncIterable<Uint8Array>,
  length: number | undefined,
): Promise<{ body: Buffer; room?: Buffer }> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return { body: Buffer.concat(chunks) };
  }
  const room = Buffer.allocUnsafeSlow(length + UPDATE_ROOM_BYTES);
  const body = room.subarray(0, length);
  let filled = 0;
  for await (const chunk of stream) {
    if (filled + chunk.length > length) throw incompleteBody(`is longer than its Content-Length ${length}`);
    body.set(chunk, filled);
    filled += chunk.length;
  }
  if (filled !== length) throw incompleteBody(`ended after ${filled} of ${length} bytes`);
  return { body, room };
}

/** A body that does not match its length was damaged in transit: reading again may succeed. */
function incompleteBody(what: string): AwsCallError {
  return new AwsCallError('S3:GetObject', 'IncompleteBody', `the index body ${what}`, { retryable: true });
}

function decodeStored(
  { etag, body, room, writtenDigest }: StoredBody,
  location: IndexLocation,
  focus: IndexFocus | undefined,
): StoredIndex {
  try {
    const ownOutput =
      writtenDigest !== undefined && focus !== undefined && writtenDigest === bodyDigest(body);
    const layout = ownOutput && splitIndexLayout(body);
    const focused = layout && focusedText(layout, focus);
    if (layout && focused) {
      return {
        state: 'readable',
        etag,
        index: parseIndex(focused.text),
        partial: { layout, names: focused.names, ...(room ? { room } : {}) },
      };
    }
    return { state: 'readable', etag, index: parseIndex(body.toString('utf8')) };
  } catch (error) {
    if (!(error instanceof IndexFormatError)) throw error;
    return {
      state: 'unreadable',
      etag,
      error: new IndexFormatError(
        `the index s3://${location.bucket}/${location.key} is unreadable (${error.message}); it was left ` +
          'unchanged. Run a full rebuild to replace it: `tsx scripts/reindex.ts rebuild --bucket ' +
          `${location.bucket} --force` +
          '` or invoke the indexer with {"action":"rebuild","force":true} ' +
          '(the old object is kept as a backup)',
        { cause: error },
      ),
    };
  }
}

/** Read, decide, conditionally write; on a lost race re-read and re-decide with backoff, bounded. */
export async function updateIndex(
  s3: S3Client,
  location: IndexLocation,
  decide: DecideNextIndex,
  options: ConditionalWriteOptions,
): Promise<ConditionalWriteResult> {
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const maxAttempts =
    options.maxAttempts ?? (options.timeLeftMs ? Number.POSITIVE_INFINITY : DEFAULT_WRITE_ATTEMPTS);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const format = options.format ?? 'yaml';
  // Blocks are spliced in YAML only: a JSON index is parsed whole (JSON.parse is fast).
  const focus = format === 'yaml' ? options.focus : undefined;
  let previousDelayMs = baseDelayMs;
  let slowestAttemptMs = 0;
  let conflicts = 0;
  let lastConflict: unknown;
  /** A write refused with a conflict that may have been our own landed write, seen on the SDK's retry. */
  let unconfirmed: Unconfirmed | undefined;
  const budget: IndexBudget | undefined =
    options.memoryMb === undefined
      ? undefined
      : {
          memoryMb: options.memoryMb,
          path: (stamped: boolean): UpdatePath => (focus && stamped ? 'focused' : 'whole'),
        };
  let attempt = 0;
  for (;;) {
    attempt++;
    const startedWithMs = options.timeLeftMs?.();
    const proposal = await propose({
      s3,
      location,
      decide,
      attempt,
      format,
      focus: focus?.(),
      budget,
      ...(unconfirmed ? { unconfirmedBody: unconfirmed.body } : {}),
    });
    if (proposal.kind === 'landed') {
      logger.info('the index holds exactly what the refused write carried: it had landed', {
        key: location.key,
        attempt,
      });
      return {
        ...(unconfirmed as Unconfirmed).result,
        attempts: attempt,
        conflicts: conflicts - 1,
        confirmedByReadBack: true,
      };
    }
    unconfirmed = undefined;
    if (proposal.kind === 'none') return { outcome: 'none', attempts: attempt, conflicts };
    const { body, etag, next } = proposal;
    const condition = etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag };
    const written: ConditionalWriteResult = {
      outcome: etag === undefined ? 'created' : 'updated',
      attempts: attempt,
      conflicts,
      index: next,
    };
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: location.key,
          Body: body,
          ContentType: CONTENT_TYPES[format],
          Metadata: writtenIndexMetadata(body),
          // Clients and CDNs revalidate with the ETag instead of serving a stale index for hours.
          CacheControl: 'no-cache',
          ...condition,
        }),
      );
      return written;
    } catch (error) {
      if (!isWriteConflict(error, 'IfMatch' in condition)) {
        if (!isAmbiguous(error)) throw toAwsCallError('S3:PutObject', error);
        // The write may have landed with its answer lost: only the stored bytes can tell.
        const after = await fetchIndexBody(s3, location);
        if (!after?.body.equals(body)) throw toAwsCallError('S3:PutObject', error);
        logger.warn('the index write failed without an answer, but reading back shows it landed', {
          key: location.key,
          attempt,
          code: awsErrorCode(error),
        });
        return { ...written, confirmedByReadBack: true };
      }
      conflicts++;
      lastConflict = error;
      if (sdkAttempts(error) > 1) unconfirmed = { body, result: written };
      if (attempt >= maxAttempts) break;
      const upper = Math.max(baseDelayMs, previousDelayMs * 3);
      const delay = Math.floor(Math.min(maxDelayMs, baseDelayMs + random() * (upper - baseDelayMs)));
      previousDelayMs = Math.max(delay, baseDelayMs);
      if (options.timeLeftMs && startedWithMs !== undefined) {
        const leftMs = options.timeLeftMs();
        slowestAttemptMs = Math.max(slowestAttemptMs, startedWithMs - leftMs);
        if (leftMs - delay < 3 * slowestAttemptMs + FINISH_RESERVE_MS) break;
      }
      logger.info('index changed since it was read; re-reading', {
        key: location.key,
        attempt,
        code: awsErrorCode(error),
        delayMs: delay,
      });
      await sleep(delay);
    }
  }
  throw new AwsCallError(
    'S3:PutObject',
    awsErrorCode(lastConflict) ?? 'PreconditionFailed',
    `s3://${location.bucket}/${location.key} changed under every one of ${attempt} attempts ` +
      `(${attempt >= maxAttempts ? 'the attempt cap' : 'as many as the time left in the invocation allowed'}); ` +
      'the update was not applied and is safe to retry',
    { cause: lastConflict, retryable: true },
  );
}

interface ProposeInput {
  s3: S3Client;
  location: IndexLocation;
  decide: DecideNextIndex;
  attempt: number;
  format: IndexFormat;
  focus: IndexFocus | undefined;
  budget: IndexBudget | undefined;
  /** The body of a refused write that may have landed (see Unconfirmed). */
  unconfirmedBody?: Buffer;
}

interface IndexBudget {
  memoryMb: number;
  path: (stamped: boolean) => UpdatePath;
}

type Proposal =
  | { kind: 'none' }
  /** The index holds exactly `unconfirmedBody`. */
  | { kind: 'landed' }
  /** Write `body`; `etag` is the version it replaces (undefined: there is no index yet). */
  | { kind: 'write'; body: Buffer; etag: string | undefined; next: IndexFile };

/**
 * One attempt's read and decision, up to the body to write. Its own frame, so that the stored body and
 * the layout's views into it can be collected before the write: during the PUT only the new body is held.
 */
async function propose(input: ProposeInput): Promise<Proposal> {
  const { s3, location, decide, attempt, format, budget } = input;
  const stored = await fetchIndexBody(s3, location, budget);
  if (input.unconfirmedBody !== undefined && stored?.body.equals(input.unconfirmedBody)) {
    return { kind: 'landed' };
  }
  let current: StoredIndex =
    stored === undefined ? { state: 'absent' } : decodeStored(stored, location, input.focus);
  let next = await decide(current, attempt);
  if (next === undefined) return { kind: 'none' };
  let body =
    current.state === 'readable' && current.partial
      ? mergeFocused(
          current.partial.layout,
          current.partial.names,
          serializeIndex(next),
          current.partial.room,
        )
      : Buffer.from(writeIndexText(next, format), 'utf8');
  if (body === undefined) {
    // The focused result does not fit back into the file: decide again on the whole index.
    const whole = await fetchIndexBody(s3, location, budget && { ...budget, path: () => 'whole' });
    current = whole === undefined ? { state: 'absent' } : decodeStored(whole, location, undefined);
    next = await decide(current, attempt);
    if (next === undefined) return { kind: 'none' };
    body = Buffer.from(writeIndexText(next, format), 'utf8');
  }
  return { kind: 'write', body, etag: current.state === 'absent' ? undefined : current.etag, next };
}

interface Unconfirmed {
  body: Buffer;
  result: ConditionalWriteResult;
}

/** How many times the SDK sent the request (more than one: an earlier try may have landed unanswered). */
function sdkAttempts(error: unknown): number {
  return (error as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
}

/** No answer or a server error: the request may or may not have been applied. */
function isAmbiguous(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return status === undefined || status >= 500;
}

/**
 * A conditional write lost a race: 412 (the ETag moved or the object appeared), 409 (a concurrent
 * conditional write), or 404 on If-Match (the index was deleted after we read it).
 */
export function isWriteConflict(error: unknown, usedIfMatch: boolean): boolean {
  const code = awsErrorCode(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') return true;
  if (status === 412 || status === 409) return true;
  return usedIfMatch && (code === 'NoSuchKey' || (status === 404 && isNotFound(error)));
}

/**
 * Copies the current index next to it before a forced overwrite. Called once per ETag about to be
 * replaced: if the index changes between this copy and the conditional write, the write fails, the
 * new version is read, and it is backed up in turn.
 */
export async function backupIndex(s3: S3Client, location: IndexLocation, now: Date): Promise<string> {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const backupKey = `${location.key}.bak-${stamp}`;
  try {
    await s3.send(
      new CopyObjectCommand({
        Bucket: location.bucket,
        Key: backupKey,
        CopySource: `${location.bucket}/${location.key.split('/').map(encodeURIComponent).join('/')}`,
      }),
    );
  } catch (error) {
    throw toAwsCallError('S3:CopyObject', error);
  }
  return backupKey;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
