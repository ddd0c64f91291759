import { Readable } from 'node:stream';
import { type GetObjectCommandOutput, S3ServiceException } from '@aws-sdk/client-s3';

/**
 * A GetObject body as the SDK returns it in Node: a readable stream with the transform helpers. A mock
 * may hand the same response to several calls, where S3 sends a fresh stream each time: iterating it
 * again yields the bytes again.
 */
export function objectBody(content: string | Uint8Array): GetObjectCommandOutput['Body'] {
  const bytes = Buffer.from(content);
  return Object.assign(Readable.from([bytes]), {
    [Symbol.asyncIterator]: async function* () {
      yield bytes;
    },
    transformToString: async (encoding?: BufferEncoding) => bytes.toString(encoding ?? 'utf-8'),
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => {
      throw new Error('not used');
    },
  }) as unknown as GetObjectCommandOutput['Body'];
}

/** An S3 error as the SDK throws it (name = code, HTTP status in $metadata). */
export function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (HTTP ${status})`,
  });
}
