import type { Context, S3Event, S3EventRecord } from 'aws-lambda';
import batch from '../../fixtures/events/s3/batch.json';
import createdEncoded from '../../fixtures/events/s3/object-created-encoded-key.json';
import createdPut from '../../fixtures/events/s3/object-created-put.json';
import removedDelete from '../../fixtures/events/s3/object-removed-delete.json';

/** Real S3 notification shapes (test/fixtures/events/s3), cloned so a test can change its copy. */
const FIXTURES = {
  'object-created-put': createdPut,
  'object-created-encoded-key': createdEncoded,
  'object-removed-delete': removedDelete,
  batch,
} as const;

export type FixtureName = keyof typeof FIXTURES;

export function loadS3Event(name: FixtureName): S3Event {
  return structuredClone(FIXTURES[name]) as S3Event;
}

/** Encodes a key as S3 does in notifications: form-URL-encoding, `/` kept, space as `+`. */
export function encodeS3Key(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

export interface RecordSpec {
  key: string;
  bucket: string;
  kind?: 'created' | 'removed';
  eventName?: string;
  sequencer?: string;
  versionId?: string;
}

/** One record per spec, from the fixture record of its kind, with the key encoded as S3 encodes it. */
export function s3Event(specs: RecordSpec[]): S3Event {
  const Records = specs.map((spec, index): S3EventRecord => {
    const template = loadS3Event(spec.kind === 'removed' ? 'object-removed-delete' : 'object-created-put')
      .Records[0] as S3EventRecord;
    template.eventName = (spec.eventName ?? template.eventName) as S3EventRecord['eventName'];
    template.s3.bucket.name = spec.bucket;
    template.s3.bucket.arn = `arn:aws:s3:::${spec.bucket}`;
    template.s3.object.key = encodeS3Key(spec.key);
    template.s3.object.sequencer =
      spec.sequencer ?? `00674B${(index + 1).toString(16).toUpperCase().padStart(12, '0')}`;
    if (spec.versionId) template.s3.object.versionId = spec.versionId;
    return template;
  });
  return { Records };
}

/** A Lambda context for invoking handlers in tests. */
export function lambdaContext(requestId = 'test-request'): Context {
  return {
    awsRequestId: requestId,
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'irsa-reconciler-uat-reindex',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:irsa-reconciler-uat-reindex',
    memoryLimitInMB: '512',
    logGroupName: '/aws/lambda/irsa-reconciler-uat-reindex',
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
