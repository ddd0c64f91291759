import { ConfigError } from '../../../lib/errors';
import { loadHandlerEnv } from '../../../lib/lambda/env';

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/irsa-reconciler-uat/5b8f2a10-a8e2-11f1-9a3c-06d1e2b3c4f5';
const VALID = {
  STAGE: 'uat',
  AWS_REGION: 'eu-west-1',
  CONFIG_APPLICATION_ID: 'abc1234',
  CONFIG_PROFILE_ID: 'prf5678',
  CONFIG_VERSION: '3',
  RUN_LEASE_TABLE: 'irsa-reconciler-uat-run-lease',
  STACK_ID,
};

function loadError(env: Record<string, string | undefined>, requireStackId = true): Error {
  try {
    loadHandlerEnv(env, { requireStackId });
  } catch (error) {
    return error as Error;
  }
  throw new Error('loadHandlerEnv accepted an invalid environment');
}

describe('loadHandlerEnv', () => {
  it('loads a complete environment: stage, region, where the deployed configuration is, the stack', () => {
    // Act
    const env = loadHandlerEnv(
      { ...VALID, LOG_LEVEL: 'debug', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' },
      { requireStackId: true },
    );

    // Assess
    expect(env).toEqual({
      stage: 'uat',
      region: 'eu-west-1',
      logLevel: 'DEBUG',
      endpoint: 'http://127.0.0.1:5000',
      configLocation: { applicationId: 'abc1234', profileId: 'prf5678', version: '3' },
      leaseTable: 'irsa-reconciler-uat-run-lease',
      stackId: STACK_ID,
    });
  });

  it('defaults LOG_LEVEL to INFO, leaves the endpoint unset and needs no STACK_ID for the schedule', () => {
    const env = loadHandlerEnv(
      { ...VALID, STAGE: 'prod', AWS_REGION: 'us-gov-west-1', STACK_ID: undefined },
      { requireStackId: false },
    );

    expect(env).toEqual({
      stage: 'prod',
      region: 'us-gov-west-1',
      logLevel: 'INFO',
      configLocation: { applicationId: 'abc1234', profileId: 'prf5678', version: '3' },
      leaseTable: 'irsa-reconciler-uat-run-lease',
    });
  });

  it.each([
    [{ ...VALID, STAGE: undefined }, 'STAGE is required'],
    [{ ...VALID, STAGE: 'u at/1' }, 'STAGE must be'],
    [{ ...VALID, AWS_REGION: '' }, 'AWS_REGION is required'],
    [{ ...VALID, AWS_REGION: 'Ireland' }, 'AWS_REGION is not a region name (got "Ireland")'],
    [{ ...VALID, LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR (got "verbose")'],
    [{ ...VALID, AWS_ENDPOINT_URL: 'localhost:5000' }, 'AWS_ENDPOINT_URL must be an http(s) URL'],
    [{ ...VALID, CONFIG_APPLICATION_ID: undefined }, 'CONFIG_APPLICATION_ID is required'],
    [{ ...VALID, CONFIG_PROFILE_ID: 'has spaces' }, 'CONFIG_PROFILE_ID is not an AppConfig configuration'],
    [{ ...VALID, CONFIG_VERSION: '0' }, 'CONFIG_VERSION is not a hosted configuration version number'],
    [{ ...VALID, CONFIG_VERSION: 'latest' }, 'CONFIG_VERSION is not a hosted configuration version number'],
    [{ ...VALID, RUN_LEASE_TABLE: undefined }, 'RUN_LEASE_TABLE is required'],
    [{ ...VALID, RUN_LEASE_TABLE: 'a table' }, 'RUN_LEASE_TABLE is not the DynamoDB table of the run lease'],
    [{ ...VALID, STACK_ID: undefined }, 'STACK_ID is required'],
    [
      { ...VALID, STACK_ID: 'irsa-reconciler-uat' },
      "STACK_ID is not this deployment's CloudFormation stack ARN",
    ],
  ])('names the variable that is wrong (%#)', (env, expected) => {
    const error = loadError(env);

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(expected);
  });

  it('reports every wrong variable at once', () => {
    const error = loadError({ LOG_LEVEL: 'loud' }, false);

    expect(error.message).toContain('STAGE is required');
    expect(error.message).toContain('AWS_REGION is required');
    expect(error.message).toContain('LOG_LEVEL must be');
    expect(error.message).toContain('CONFIG_VERSION is required');
    expect(error.message).not.toContain('STACK_ID');
  });

  it('never reads a configuration from the environment itself', () => {
    const env = loadHandlerEnv({ ...VALID, RECONCILER_CONFIG: '{"bindings":[]}' }, { requireStackId: true });

    expect(Object.keys(env)).not.toContain('config');
  });
});
