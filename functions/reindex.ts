import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAwsClients } from '../lib/aws/clients';
import { describeError, isRetryableAwsError } from '../lib/errors';
import { createOciPublisher, isEcrRegistry } from '../lib/helm/oci/publisher';
import {
  handleS3Event,
  type IncrementalSummary,
  type RebuildSummary,
  type ReindexDeps,
  rebuildIndex,
} from '../lib/helm/reindexer';
import { parseInvocation } from '../lib/helm/s3-events';
import { coldStartFailure, loadIndexerEnv } from '../lib/lambda/env';
import { publishMetrics } from '../lib/lambda/metrics-middleware';
import { createLogger, type Logger } from '../lib/observability/logger';
import { createMetrics, type MetricsSink, noMetrics } from '../lib/observability/metrics';

/**
 * Helm repository indexer. S3 notifications for *.tgz under the prefix update index.yaml incrementally;
 * `{"action":"rebuild","force"?:true,"dryRun"?:true}` rebuilds it from a listing of the prefix.
 * Wiring only: the work is in lib/helm; failures are logged and classified in `failureLogging`.
 */
export function createHandler(deps: ReindexDeps) {
  const metrics = deps.metrics ?? noMetrics;
  return middy<unknown, IncrementalSummary | RebuildSummary>()
    .use(publishMetrics(metrics))
    .use(failureLogging(deps.logger, metrics))
    .handler(async (event: unknown, context: Context) => {
      const scoped = {
        ...deps,
        logger: deps.logger.forInvocation(context, { requestId: context.awsRequestId }),
        timeLeftMs: () => context.getRemainingTimeInMillis(),
        ...memoryOf(context),
      };
      const invocation = parseInvocation(event);
      const summary =
        invocation.kind === 's3'
          ? await handleS3Event(scoped, invocation.event)
          : await rebuildIndex(scoped, { force: invocation.force, dryRun: invocation.dryRun });
      const rebuildWrote = summary.outcome === 'created' || summary.outcome === 'updated' ? 1 : 0;
      metrics.count('IndexWrites', 'writes' in summary ? summary.writes : rebuildWrote);
      metrics.count(`IndexOutcome_${summary.outcome}`, 1);
      return summary;
    });
}

/** The function's memory, when the context gives a usable one. */
function memoryOf(context: Context): { memoryMb?: number } {
  const memoryMb = Number(context.memoryLimitInMB);
  return Number.isInteger(memoryMb) && memoryMb > 0 ? { memoryMb } : {};
}

/**
 * The one place errors meet the Lambda runtime. Invalid charts never get here (they are logged, counted
 * and left out). Everything else fails the invocation: a retryable error (throttling, a lost race after
 * every attempt) so that Lambda retries the asynchronous event; a terminal one (unreadable index, bad
 * event, access denied) so that it reaches the error metric and the on-failure destination.
 */
function failureLogging(logger: Logger, metrics: MetricsSink): middy.MiddlewareObj {
  return {
    onError: (request) => {
      const retryable = isRetryableAwsError(request.error);
      metrics.count(retryable ? 'IndexFailuresRetryable' : 'IndexFailuresTerminal', 1);
      logger
        .forInvocation(request.context, { requestId: request.context.awsRequestId })
        .error(retryable ? 'indexing failed; the event will be retried' : 'indexing failed', {
          error: describeError(request.error),
          retryable,
        });
    },
  };
}

/** Dependencies from the Lambda environment, validated once per container. */
export function depsFromEnv(env: Record<string, string | undefined>): ReindexDeps {
  const loaded = loadIndexerEnv(env);
  const clients = createAwsClients({
    region: loaded.region,
    ...(loaded.endpoint ? { endpoint: loaded.endpoint } : {}),
  });
  const oci = loaded.config.oci;
  const ecrRegion = oci && isEcrRegistry(oci.registry) ? oci.registry.split('.')[3] : undefined;
  return {
    s3: clients.s3,
    config: loaded.config,
    ...(oci
      ? {
          oci: createOciPublisher({
            config: oci,
            ...(ecrRegion ? { ecr: clients.ecr(ecrRegion) } : {}),
            repositoryTags: {
              'irsa-reconciler/managed-by': 'irsa-reconciler',
              'irsa-reconciler/chart-bucket': loaded.config.bucket,
            },
          }),
        }
      : {}),
    logger: createLogger({
      level: loaded.logLevel,
      service: 'helm-reindex',
      fields: { bucket: loaded.config.bucket },
    }),
    metrics: createMetrics({
      namespace: 'IrsaReconciler/HelmRepository',
      service: 'helm-reindex',
      dimensions: { Bucket: loaded.config.bucket },
    }),
  };
}

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  try {
    return createHandler(depsFromEnv(env));
  } catch (error) {
    return coldStartFailure(error);
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
