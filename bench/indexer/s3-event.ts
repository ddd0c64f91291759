/**
 * An S3 "object created" notification as S3 delivers it to Lambda
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
 * the key form-URL-encoded, the ETag without quotes.
 */
export function objectCreatedEvent(
  bucket: string,
  object: { key: string; size: number; etag: string },
  now: Date,
): { Records: Array<Record<string, unknown>> } {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: now.toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'BENCH', 'x-amz-id-2': 'BENCH' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'chart-uploaded',
          bucket: { name: bucket, ownerIdentity: { principalId: 'EXAMPLE' }, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeURIComponent(object.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
            size: object.size,
            eTag: object.etag.replace(/"/g, ''),
            sequencer: now.getTime().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  };
}
