import { InvalidEventError } from '../../../lib/errors';
import {
  isTrustedResponseUrl,
  parseCfnEvent,
  physicalResourceIdOf,
  recoverResponseTarget,
} from '../../../lib/lambda/cfn-event';
import { loadEvent } from './support';

describe('parseCfnEvent', () => {
  it.each(['create', 'update', 'delete'] as const)('accepts the recorded %s event', (name) => {
    const event = loadEvent(name);

    expect(parseCfnEvent(event)).toEqual(event);
  });

  it.each([
    ['an Update without PhysicalResourceId', 'update', 'PhysicalResourceId', 'PhysicalResourceId: '],
    ['an Update without OldResourceProperties', 'update', 'OldResourceProperties', 'OldResourceProperties: '],
    ['a Delete without ResourceProperties', 'delete', 'ResourceProperties', 'ResourceProperties: '],
    ['a Create without StackId', 'create', 'StackId', 'StackId: '],
  ] as const)('rejects %s, naming the field', (_case, name, field, message) => {
    const event: Record<string, unknown> = loadEvent(name);
    delete event[field];

    expect(() => parseCfnEvent(event)).toThrow(InvalidEventError);
    expect(() => parseCfnEvent(event)).toThrow(message);
  });

  it('rejects an unknown RequestType', () => {
    const event = { ...loadEvent('create'), RequestType: 'Replace' };

    expect(() => parseCfnEvent(event)).toThrow(/RequestType/);
  });

  it('rejects a ResponseURL that is not http(s)', () => {
    const event = { ...loadEvent('create'), ResponseURL: 'file:///etc/passwd' };

    expect(() => parseCfnEvent(event)).toThrow(/ResponseURL/);
  });
});

describe('recoverResponseTarget', () => {
  it('recovers the answer address of an otherwise broken event', () => {
    const event: Record<string, unknown> = loadEvent('update');
    delete event.RequestType;
    delete event.LogicalResourceId;

    expect(recoverResponseTarget(event)).toEqual({
      responseUrl: event.ResponseURL,
      stackId: event.StackId,
      requestId: event.RequestId,
      logicalResourceId: '',
    });
    expect(physicalResourceIdOf(event)).toBe('irsa-reconciler-uat');
  });

  it.each([[null], ['text'], [{ ResponseURL: 'ftp://example.com/x' }], [{ ResponseURL: 42 }]])(
    'finds none in %p',
    (raw) => {
      expect(recoverResponseTarget(raw)).toBeUndefined();
    },
  );
});

describe('isTrustedResponseUrl', () => {
  const strict = { allowLoopbackHttp: false };

  it.each([
    'https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/arn%3A?X-Amz-Signature=1',
    'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x',
    'https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x',
    'https://s3.eu-west-1.amazonaws.com/bucket/key',
  ])('answers the presigned S3 URL CloudFormation sends: %s', (url) => {
    expect(isTrustedResponseUrl(url, strict)).toBe(true);
  });

  it.each([
    ['plain http on S3', 'http://bucket.s3.amazonaws.com/x'],
    ['another host', 'https://collector.example.com/x'],
    ['an S3 lookalike domain', 'https://bucket.s3.amazonaws.com.example.net/x'],
    ['a host ending like S3', 'https://evils3.amazonaws.com/x'],
    ['credentials', 'https://user:secret@bucket.s3.amazonaws.com/x'],
    ['another port', 'https://bucket.s3.amazonaws.com:8443/x'],
    ['loopback http in production', 'http://127.0.0.1:8080/x'],
    ['the metadata service', 'http://169.254.169.254/latest/meta-data/'],
    ['not a URL', 'not a url'],
  ])('never answers %s', (_case, url) => {
    expect(isTrustedResponseUrl(url, strict)).toBe(false);
  });

  it('answers loopback http only against the local emulator', () => {
    const emulator = { allowLoopbackHttp: true };

    expect(isTrustedResponseUrl('http://127.0.0.1:8080/x', emulator)).toBe(true);
    expect(isTrustedResponseUrl('http://localhost:8080/x', emulator)).toBe(true);
    expect(isTrustedResponseUrl('http://10.0.0.1:8080/x', emulator)).toBe(false);
  });
});
