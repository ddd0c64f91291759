import { InvalidEventError } from '../../../lib/errors';
import { parseCfnEvent, physicalResourceIdOf, recoverResponseTarget } from '../../../lib/handlers/cfn-event';
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
