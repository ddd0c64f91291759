import { createLogger } from '../../../lib/observability/logger';
import { lambdaContext } from '../lambda/support';

/** The Powertools-backed logger behind the project's interface. */

function capture(level: 'DEBUG' | 'INFO' = 'INFO') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    service: 'irsa-reconciler',
    write: (line) => lines.push(JSON.parse(line)),
  });
  return { lines, logger };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, message, timestamp, service and the fields', () => {
    const { lines, logger } = capture();

    logger.info('reconcile finished', { counts: { created: 2 } });

    expect(lines).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'reconcile finished',
        service: 'irsa-reconciler',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        counts: { created: 2 },
      }),
    ]);
  });

  it('keeps an error whole: name, message, cause and the stack trace the source maps point', () => {
    const { lines, logger } = capture();
    const error = new TypeError('boom', { cause: new Error('root cause') });

    logger.error('invocation failed', { error });

    const logged = lines[0]?.error as Record<string, unknown>;
    expect(logged).toMatchObject({ name: 'TypeError', message: 'boom' });
    expect(String(logged.stack)).toContain('logger.test.ts');
    expect(JSON.stringify(logged.cause)).toContain('root cause');
  });

  it('drops lines below its level', () => {
    const { lines, logger } = capture('INFO');

    logger.debug('detail');
    logger.warn('attention');

    expect(lines.map((line) => line.level)).toEqual(['WARN']);
  });

  it('gives an invocation the Lambda context: cold start once per container, the request id, the function', () => {
    // Lambda sets the initialization type; Powertools reports a cold start only for on-demand ones
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    const { lines, logger } = capture();
    delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;

    logger.forInvocation(lambdaContext(), { trigger: 'schedule' }).info('first');
    logger.forInvocation(lambdaContext(1000, 'second-request'), {}).info('second');

    expect(lines[0]).toMatchObject({
      cold_start: true,
      function_name: 'irsa-reconciler-uat-custom-resource',
      function_request_id: 'f0e1d2c3-b4a5-4687-9a8b-7c6d5e4f3a2b',
      trigger: 'schedule',
    });
    expect(lines[1]).toMatchObject({ cold_start: false, function_request_id: 'second-request' });
    expect(lines[1]).not.toHaveProperty('trigger');
  });

  it("keeps a child's fields on every line of the child only", () => {
    const { lines, logger } = capture();

    logger.child({ region: 'eu-west-1' }).info('in region');
    logger.info('outside');

    expect(lines[0]).toMatchObject({ region: 'eu-west-1' });
    expect(lines[1]).not.toHaveProperty('region');
  });
});
