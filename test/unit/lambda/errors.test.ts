import {
  AwsCallError,
  ConfigError,
  DeadlineExceededError,
  ReconcileFailedError,
  TemplateError,
} from '../../../lib/errors';
import { classifyError } from '../../../lib/lambda/errors';
import { describeFailures, failureOf } from '../../../lib/reconciler/report';
import { report } from './support';

describe('classifyError', () => {
  it.each([
    [new AwsCallError('IAM:CreateRole', 'Throttling', 'Rate exceeded', { retryable: true }), 'retryable'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'retryable'],
    [
      Object.assign(new Error('We encountered an internal error'), {
        name: 'ServiceFailure',
        $fault: 'server',
      }),
      'retryable',
    ],
    [new DeadlineExceededError('timed out'), 'retryable'],
    [new ConfigError('bindings[0].name: required'), 'terminal'],
    [new TemplateError('s3-prefix-access: unknown variable Bucket'), 'terminal'],
    [
      Object.assign(new Error('User is not authorized'), { name: 'AccessDenied', $fault: 'client' }),
      'terminal',
    ],
    [new TypeError("Cannot read properties of undefined (reading 'roleName')"), 'terminal'],
  ])('classifies %p as %s', (error, classification) => {
    expect(classifyError(error).classification).toBe(classification);
  });

  it('gives a one-line reason with the error name, never a JSON dump', () => {
    const classified = classifyError(new ConfigError('regions[1]: not an AWS region name (e.g. eu-west-1)'));

    expect(classified).toEqual({
      classification: 'terminal',
      errorName: 'ConfigError',
      reason: 'ConfigError: regions[1]: not an AWS region name (e.g. eu-west-1)',
    });
  });

  it('describes a thrown non-error value', () => {
    expect(classifyError('plain string').reason).toBe('plain string');
  });
});

describe('failureOf: the ReconcileFailedError of a run', () => {
  it('is retryable only when every failed action is retryable', () => {
    const retryable = report({
      failed: true,
      results: [
        {
          action: { kind: 'delete', roleName: 'a', reason: 'gone' },
          outcome: { status: 'failed', error: 'DeleteRole failed: Throttling', retryable: true },
        },
      ],
    });
    const mixed = report({
      failed: true,
      results: [
        ...retryable.results,
        {
          action: { kind: 'tag', roleName: 'b', tags: {} },
          outcome: { status: 'failed', error: 'AccessDenied', retryable: false },
        },
      ],
    });

    expect(failureOf(retryable)).toBeInstanceOf(ReconcileFailedError);
    expect(failureOf(retryable).retryable).toBe(true);
    expect(failureOf(mixed).retryable).toBe(false);
    expect(failureOf(mixed).message).toBe(
      'Reconcile finished with failures: delete a failed (DeleteRole failed: Throttling); tag b failed (AccessDenied)',
    );
  });
});

describe('describeFailures', () => {
  it('leaves regions out for a teardown', () => {
    const failed = report({ regions: [{ region: 'us-east-1', status: 'unknown', clusters: 0, error: 'x' }] });

    expect(describeFailures(failed)).toBe('region us-east-1 unknown (x)');
    expect(describeFailures(failed, { includeRegions: false })).toBe('no failure recorded');
  });
});
