import { ConfigError } from '../errors';
import { type IndexerConfig, indexerConfigFromEnv } from '../helm/config';
import { createLogger, type Logger, type LogLevel } from '../observability/logger';
import { createMetrics, type MetricsSink } from '../observability/metrics';
import type { DeployedConfigLocation } from './deployed-config';
import { classifyError } from './errors';

/** The Lambda environment, validated once per container at cold start. */
export interface HandlerEnv extends RuntimeEnv {
  stage: string;
  /** Where the deployment wrote the reconciler configuration (both reconciling functions). */
  configLocation: DeployedConfigLocation;
  /** This deployment's stack: the custom resource refuses requests from any other. */
  stackId?: string;
  /** The DynamoDB table of the run lease (lib/lambda/lease.ts), made by the stack. */
  leaseTable: string;
}

export interface LoadHandlerEnvOptions {
  /** The custom resource needs STACK_ID; the scheduled function does not. */
  requireStackId: boolean;
}

const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
const STAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const APPCONFIG_ID = /^[a-z0-9]{4,7}$/;
const VERSION_NUMBER = /^[1-9]\d{0,9}$/;
const DYNAMODB_TABLE = /^[A-Za-z0-9_.-]{3,255}$/;
const STACK_ID =
  /^arn:aws(-cn|-us-gov)?:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]*\/[A-Za-z0-9-]+$/;

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
  const base = loadRuntimeEnv(env, problems);

  const applicationId = required(
    env,
    'CONFIG_APPLICATION_ID',
    APPCONFIG_ID,
    'an AppConfig application id',
    problems,
  );
  const profileId = required(
    env,
    'CONFIG_PROFILE_ID',
    APPCONFIG_ID,
    'an AppConfig configuration profile id',
    problems,
  );
  const version = required(
    env,
    'CONFIG_VERSION',
    VERSION_NUMBER,
    'a hosted configuration version number',
    problems,
  );
  const leaseTable = required(
    env,
    'RUN_LEASE_TABLE',
    DYNAMODB_TABLE,
    'the DynamoDB table of the run lease',
    problems,
  );
  const stackId = options.requireStackId
    ? required(env, 'STACK_ID', STACK_ID, "this deployment's CloudFormation stack ARN", problems)
    : undefined;

  if (problems.length > 0 || !base) {
    throw new ConfigError(`Invalid Lambda environment: ${problems.join('; ')}`);
  }
  return {
    stage,
    ...base,
    configLocation: { applicationId, profileId, version },
    leaseTable,
    ...(stackId ? { stackId } : {}),
  };
}

/** What every function's environment holds: the region, the log level, the emulator endpoint. */
export interface RuntimeEnv {
  region: string;
  logLevel: LogLevel;
  /** Endpoint override for every AWS service: the local emulator only. */
  endpoint?: string;
}

/** Validates the variables every function reads; adds a line to `problems` per wrong one. */
function loadRuntimeEnv(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): RuntimeEnv | undefined {
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
  if (!logLevel || problems.length > 0) return undefined;
  return { region, logLevel, ...(endpoint ? { endpoint } : {}) };
}

export interface IndexerEnv extends RuntimeEnv {
  config: IndexerConfig;
}

/** The indexer's environment: the runtime variables and its CHART_* settings, every problem at once. */
export function loadIndexerEnv(env: Readonly<Record<string, string | undefined>>): IndexerEnv {
  const problems: string[] = [];
  const base = loadRuntimeEnv(env, problems);
  let config: IndexerConfig | undefined;
  try {
    config = indexerConfigFromEnv(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  if (!base || !config || problems.length > 0) {
    throw new ConfigError(`Invalid Lambda environment: ${problems.join('; ')}`);
  }
  return { ...base, config };
}

function required(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  pattern: RegExp,
  what: string,
  problems: string[],
): string {
  const value = env[name]?.trim() ?? '';
  if (!value) problems.push(`${name} is required (${what}, set by the stack)`);
  else if (!pattern.test(value)) problems.push(`${name} is not ${what} (got "${value}")`);
  return value;
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

/** The reconciling functions' metrics: namespace `IrsaReconciler`, one dimension, the stage. */
export function serviceMetrics(stage: string): MetricsSink {
  return createMetrics({
    namespace: 'IrsaReconciler',
    service: 'irsa-reconciler',
    dimensions: { Stage: stage },
  });
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
