import { ConfigError } from '../errors';
import { createLogger, type Logger, type LogLevel } from '../logger';
import { parseReconcilerConfig } from '../reconciler/config';
import type { ReconcilerConfig } from '../reconciler/types';
import { classifyError } from './errors';

/** The Lambda environment, validated once per container at cold start. */
export interface HandlerEnv {
  stage: string;
  region: string;
  logLevel: LogLevel;
  /** Endpoint override for every AWS service: the local emulator only. */
  endpoint?: string;
  /** The parsed RECONCILER_CONFIG, when it is required (the scheduled function). */
  config?: ReconcilerConfig;
}

export interface LoadHandlerEnvOptions {
  /** The scheduled function reads its configuration from RECONCILER_CONFIG; the custom resource does not. */
  requireReconcilerConfig: boolean;
}

const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
const STAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * Validates every variable the handlers use and names each one that is missing or wrong, all in one
 * ConfigError, so a broken deployment says exactly what to fix.
 */
export function loadHandlerEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadHandlerEnvOptions,
): HandlerEnv {
  const problems: string[] = [];
  const stage = env.STAGE?.trim() ?? '';
  if (!stage) problems.push('STAGE is required (the deployment stage, e.g. "uat")');
  else if (!STAGE_PATTERN.test(stage)) {
    problems.push(
      `STAGE must be 1-32 letters, digits or "-", starting with a letter or digit (got "${stage}")`,
    );
  }
  const region = env.AWS_REGION?.trim() ?? '';
  if (!region) problems.push('AWS_REGION is required (Lambda sets it)');
  else if (!REGION_PATTERN.test(region)) problems.push(`AWS_REGION is not a region name (got "${region}")`);

  const rawLevel = env.LOG_LEVEL?.trim().toUpperCase() || 'INFO';
  const logLevel = LOG_LEVELS.find((level) => level === rawLevel);
  if (!logLevel) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);

  const endpoint = env.AWS_ENDPOINT_URL?.trim() || undefined;
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    problems.push(`AWS_ENDPOINT_URL must be an http(s) URL (got "${endpoint}")`);
  }

  let rawConfig: unknown;
  const configText = env.RECONCILER_CONFIG?.trim();
  if (options.requireReconcilerConfig) {
    if (!configText) problems.push('RECONCILER_CONFIG is required (the reconciler configuration as JSON)');
    else {
      try {
        rawConfig = JSON.parse(configText);
      } catch (error) {
        problems.push(`RECONCILER_CONFIG is not valid JSON: ${(error as Error).message}`);
      }
    }
  }

  if (problems.length > 0 || !logLevel) {
    throw new ConfigError(`Invalid Lambda environment: ${problems.join('; ')}`);
  }
  const loaded: HandlerEnv = { stage, region, logLevel, ...(endpoint ? { endpoint } : {}) };
  if (rawConfig !== undefined) {
    try {
      loaded.config = parseReconcilerConfig(rawConfig, { stage, deploymentRegion: region });
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError(`Invalid Lambda environment: RECONCILER_CONFIG: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
  return loaded;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The handlers' logger: JSON lines tagged with the service and stage. */
export function serviceLogger(level: LogLevel, stage?: string): Logger {
  return createLogger({ level, service: 'irsa-reconciler', fields: stage ? { stage } : {} });
}

/**
 * The handler of a container whose environment is invalid: logs the problem on every invocation and
 * fails it, so the Errors metric and the logs both say what to fix (instead of an opaque init error).
 */
export function coldStartFailure(error: unknown): () => Promise<never> {
  const logger = serviceLogger('INFO');
  return async () => {
    logger.error('invalid Lambda configuration: fix the environment and redeploy', {
      ...classifyError(error),
      error,
    });
    throw error;
  };
}
