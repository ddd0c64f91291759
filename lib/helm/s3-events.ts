import { z } from 'zod';
import { InvalidEventError } from '../errors';
import { describeIssues } from './config';
import { unsafeKeyReason } from './store/chart-store';

/**
 * S3 event notifications (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
 * reduced to what the indexer needs: which chart keys may have changed. The event only says *where* to
 * look; what the index gets is decided from the object as it is when we look (see reindexer.ts).
 */

const recordSchema = z.looseObject({
  eventSource: z.literal('aws:s3'),
  eventName: z.string().min(1),
  eventTime: z.string().optional(),
  s3: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({
      key: z.string().min(1),
      size: z.number().optional(),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

const eventSchema = z.looseObject({ Records: z.array(recordSchema).min(1) });

export type S3NotificationRecord = z.infer<typeof recordSchema>;

/** What a record announces; `other` covers tagging, ACL, restore, replication, transitions. */
export type S3ChangeKind = 'created' | 'removed' | 'other';

/** One key the event asks us to look at, with the latest record about it (by sequencer). */
export interface ChartKeyNotice {
  key: string;
  kind: Exclude<S3ChangeKind, 'other'>;
  eventName: string;
  /** Records about this key in the event (duplicates collapse into one notice). */
  records: number;
  sequencer?: string;
  versionId?: string;
}

export interface IgnoredRecord {
  key: string;
  reason: string;
}

export interface ChartKeyFilter {
  bucket: string;
  prefix: string;
  indexKey: string;
}

/** Validates an S3 notification event; a wrong shape is an InvalidEventError naming the first problem. */
export function parseS3Event(event: unknown): S3NotificationRecord[] {
  const result = eventSchema.safeParse(event);
  if (!result.success) {
    throw new InvalidEventError(`not an S3 notification event: ${describeIssues(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data.Records;
}

/**
 * Decodes a key as S3 writes it into notifications: form-URL-encoded, so `+` is a space and a literal
 * `+` arrives as `%2B`.
 */
export function decodeS3Key(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch (error) {
    throw new InvalidEventError(`object key "${encoded}" is not valid URL encoding`, { cause: error });
  }
}

export function classifyEventName(eventName: string): S3ChangeKind {
  const name = eventName.replace(/^s3:/, '');
  if (name.startsWith('ObjectCreated:')) return 'created';
  if (name.startsWith('ObjectRemoved:') || name.startsWith('LifecycleExpiration:')) return 'removed';
  return 'other';
}

/**
 * Orders two sequencers of the same key: hexadecimal strings, the shorter right-padded with zeros, then
 * compared as strings. Records without one sort first.
 */
export function compareSequencers(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const width = Math.max(a.length, b.length);
  const left = a.toUpperCase().padEnd(width, '0');
  const right = b.toUpperCase().padEnd(width, '0');
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Picks the chart keys of an event: records of the configured bucket, created or removed, under the
 * prefix, ending in `.tgz` (not the index itself). Several records about one key become one notice.
 */
export function selectChartKeys(
  records: readonly S3NotificationRecord[],
  filter: ChartKeyFilter,
): { notices: ChartKeyNotice[]; ignored: IgnoredRecord[] } {
  const notices = new Map<string, ChartKeyNotice>();
  const ignored: IgnoredRecord[] = [];
  for (const record of records) {
    const raw = record.s3.object.key;
    let key: string;
    try {
      key = decodeS3Key(raw);
    } catch (error) {
      ignored.push({ key: raw, reason: (error as Error).message });
      continue;
    }
    const reason = ignoreReason(record, key, filter);
    if (reason) {
      ignored.push({ key, reason });
      continue;
    }
    const kind = classifyEventName(record.eventName) as ChartKeyNotice['kind'];
    const { sequencer, versionId } = record.s3.object;
    const previous = notices.get(key);
    const notice: ChartKeyNotice = {
      key,
      kind,
      eventName: record.eventName,
      records: (previous?.records ?? 0) + 1,
      ...(sequencer === undefined ? {} : { sequencer }),
      ...(versionId === undefined ? {} : { versionId }),
    };
    if (!previous || compareSequencers(previous.sequencer, sequencer) <= 0) notices.set(key, notice);
    else previous.records = notice.records;
  }
  return { notices: [...notices.values()], ignored };
}

function ignoreReason(record: S3NotificationRecord, key: string, filter: ChartKeyFilter): string | undefined {
  if (record.s3.bucket.name !== filter.bucket)
    return `bucket ${record.s3.bucket.name} is not ${filter.bucket}`;
  if (classifyEventName(record.eventName) === 'other')
    return `event ${record.eventName} does not change charts`;
  if (key === filter.indexKey) return 'the index itself';
  if (!key.startsWith(filter.prefix)) return `outside the prefix "${filter.prefix}"`;
  if (!key.endsWith('.tgz')) return 'not a .tgz archive';
  return unsafeKeyReason(key);
}

const rebuildCommandSchema = z.strictObject({
  action: z.literal('rebuild'),
  force: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

/** What a Lambda invocation of the indexer asks for. */
export type ReindexInvocation =
  | { kind: 's3'; event: unknown }
  | { kind: 'rebuild'; force: boolean; dryRun: boolean };

const EXPECTED =
  'expected an S3 notification event ({"Records":[...]}) or {"action":"rebuild","force"?:boolean,"dryRun"?:boolean}';

/** Tells an S3 notification from a rebuild command; anything else is an InvalidEventError. */
export function parseInvocation(event: unknown): ReindexInvocation {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError(
      `unsupported invocation (${event === null ? 'null' : typeof event}): ${EXPECTED}`,
    );
  }
  if ('Records' in event) return { kind: 's3', event };
  if ('action' in event) {
    const result = rebuildCommandSchema.safeParse(event);
    if (!result.success) {
      throw new InvalidEventError(`invalid command: ${describeIssues(result.error)}; ${EXPECTED}`, {
        cause: result.error,
      });
    }
    return { kind: 'rebuild', force: result.data.force ?? false, dryRun: result.data.dryRun ?? false };
  }
  throw new InvalidEventError(
    `unsupported invocation with keys [${Object.keys(event).join(', ')}]: ${EXPECTED}`,
  );
}
