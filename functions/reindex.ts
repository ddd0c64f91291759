import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAwsClients } from '../lib/aws/clients';
import { ConfigError, describeError, isRetryableAwsError } from '../lib/errors';
import { indexerConfigFromEnv } from '../lib/helm/config';
import {
  emfMetrics,
  handleS3Event,
  type IncrementalSummary,
  type RebuildSummary,
  type ReindexDeps,
  rebuildIndex,
} from '../lib/helm/reindexer';
import { parseInvocation } from '../lib/helm/s3-events';
import { createLogger, type Logger, type LogLevel, silentLogger } from '../lib/observability/logger';

/**
 * Helm repository indexer. S3 notifications for *.tgz under the prefix update index.yaml incrementally;
 * `{"action":"rebuild","force"?:true,"dryRun"?:true}` rebuilds it from a listing of the prefix.
 * All logic lives in lib/helm; this file wires dependencies and maps errors to the invocation outcome.
 */
export function createHandler(deps: ReindexDeps) {
  return middy(async (event: unknown, context: Context): Promise<IncrementalSummary | RebuildSummary> => {
    const logger = (deps.logger ?? silentLogger).child({ requestId: context.awsRequestId });
    const scoped = { ...deps, logger };
    try {
      const invocation = parseInvocation(event);
      if (invocation.kind === 's3') return await handleS3Event(scoped, invocation.event);
      return await rebuildIndex(scoped, { force: invocation.force, dryRun: invocation.dryRun });
    } catch (error) {
      return failInvocation(logger, error);
    }
  });
}

/**
 * The one place errors meet the Lambda runtime. Invalid charts never get here (they are logged, counted
 * and left out). Everything else fails the invocation: a retryable error (throttling, a lost race after
 * every attempt) so that Lambda retries the asynchronous event; a terminal one (unreadable index, bad
 * event, access denied) so that it reaches the error metric and the on-failure destination.
 */
function failInvocation(logger: Logger, error: unknown): never {
  const retryable = isRetryableAwsError(error);
  logger.error(retryable ? 'indexing failed; the event will be retried' : 'indexing failed', {
    error: describeError(error),
    retryable,
  });
  throw error;
}

const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Dependencies from the Lambda environment, validated once per container. */
export function depsFromEnv(env: Record<string, string | undefined>): ReindexDeps {
  const config = indexerConfigFromEnv(env);
  const region = env.AWS_REGION;
  if (!region) throw new ConfigError('AWS_REGION: is required');
  const level = (env.LOG_LEVEL ?? 'INFO').toUpperCase();
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw new ConfigError(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  }
  const clients = createAwsClients({
    region,
    ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
  });
  return {
    s3: clients.s3,
    config,
    logger: createLogger({
      level: level as LogLevel,
      service: 'helm-reindex',
      fields: { bucket: config.bucket },
    }),
    metrics: emfMetrics({ dimensions: { Bucket: config.bucket } }),
  };
}

let containerHandler: ReturnType<typeof createHandler> | undefined;

/** The deployed entry point: configuration is read and validated on the first invocation of a container. */
export const handler = (event: unknown, context: Context) => {
  containerHandler ??= createHandler(depsFromEnv(process.env));
  return containerHandler(event, context);
};
