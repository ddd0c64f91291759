import { ConfigError } from '../../../lib/errors';
import { loadHandlerEnv } from '../../../lib/handlers/env';
import { parseReconcilerConfig } from '../../../lib/reconciler/config';
import { reconcilerConfig } from './support';

jest.mock('../../../lib/reconciler/config', () => ({ parseReconcilerConfig: jest.fn() }));
const parseConfig = jest.mocked(parseReconcilerConfig);

const VALID = { STAGE: 'uat', AWS_REGION: 'eu-west-1', RECONCILER_CONFIG: '{"bindings":[]}' };

function loadError(env: Record<string, string | undefined>, requireReconcilerConfig = true): Error {
  try {
    loadHandlerEnv(env, { requireReconcilerConfig });
  } catch (error) {
    return error as Error;
  }
  throw new Error('loadHandlerEnv accepted an invalid environment');
}

describe('loadHandlerEnv', () => {
  beforeEach(() => {
    parseConfig.mockReset();
    parseConfig.mockImplementation((_raw, context) => reconcilerConfig(context));
  });

  it('loads a complete environment and parses RECONCILER_CONFIG with the stage and region', () => {
    // Act
    const env = loadHandlerEnv(
      { ...VALID, LOG_LEVEL: 'debug', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' },
      { requireReconcilerConfig: true },
    );

    // Assess
    expect(env).toMatchObject({
      stage: 'uat',
      region: 'eu-west-1',
      logLevel: 'DEBUG',
      endpoint: 'http://127.0.0.1:5000',
    });
    expect(env.config?.stage).toBe('uat');
    expect(parseConfig).toHaveBeenCalledWith(
      { bindings: [] },
      { stage: 'uat', deploymentRegion: 'eu-west-1' },
    );
  });

  it('defaults LOG_LEVEL to INFO and leaves the endpoint unset', () => {
    const env = loadHandlerEnv(
      { STAGE: 'prod', AWS_REGION: 'us-gov-west-1' },
      { requireReconcilerConfig: false },
    );

    expect(env).toEqual({ stage: 'prod', region: 'us-gov-west-1', logLevel: 'INFO' });
    expect(parseConfig).not.toHaveBeenCalled();
  });

  it.each([
    [{ ...VALID, STAGE: undefined }, 'STAGE is required'],
    [{ ...VALID, STAGE: 'u at/1' }, 'STAGE must be'],
    [{ ...VALID, AWS_REGION: '' }, 'AWS_REGION is required'],
    [{ ...VALID, AWS_REGION: 'Ireland' }, 'AWS_REGION is not a region name (got "Ireland")'],
    [{ ...VALID, LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR (got "verbose")'],
    [{ ...VALID, AWS_ENDPOINT_URL: 'localhost:5000' }, 'AWS_ENDPOINT_URL must be an http(s) URL'],
    [{ ...VALID, RECONCILER_CONFIG: undefined }, 'RECONCILER_CONFIG is required'],
    [{ ...VALID, RECONCILER_CONFIG: '{bindings:' }, 'RECONCILER_CONFIG is not valid JSON'],
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
  });

  it('does not require RECONCILER_CONFIG where the configuration comes from the event', () => {
    expect(() =>
      loadHandlerEnv({ STAGE: 'uat', AWS_REGION: 'eu-west-1' }, { requireReconcilerConfig: false }),
    ).not.toThrow();
  });

  it('prefixes a configuration error with RECONCILER_CONFIG and keeps the field path', () => {
    // Prepare
    parseConfig.mockImplementation(() => {
      throw new ConfigError('bindings[0].namespace: must be a Kubernetes namespace name');
    });

    // Act
    const error = loadError(VALID);

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'Invalid Lambda environment: RECONCILER_CONFIG: bindings[0].namespace: must be a Kubernetes namespace name',
    );
  });
});
