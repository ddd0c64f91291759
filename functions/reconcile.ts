import middy from '@middy/core';
import type { AwsClients } from '../lib/aws/clients';
import { coldStartFailure } from '../lib/lambda/env';
import { errorLogging } from '../lib/lambda/errors';
import { leaseTiming, noLease, type RunLease } from '../lib/lambda/lease';
import { publishMetrics } from '../lib/lambda/metrics-middleware';
import { reconcilerWiring } from '../lib/lambda/reconciler-wiring';
import { configForTrigger, parseReconcileTrigger } from '../lib/lambda/scheduled-event';
import type { Logger } from '../lib/observability/logger';
import { type MetricsSink, noMetrics } from '../lib/observability/metrics';
import { reconcile } from '../lib/reconciler/index';
import { type ChangeLine, changesOf, failureOf, recordRunMetrics } from '../lib/reconciler/report';
import type { ReconcileReport, ReconcilerConfig } from '../lib/reconciler/types';

export interface ReconcileHandlerDeps {
  clients: AwsClients;
  logger: Logger;
  /** Per-run counts as CloudWatch metrics (none when not given). */
  metrics?: MetricsSink;
  /** The configuration the deployment wrote (AppConfig), read once per container; never the event's. */
  loadConfig: () => Promise<ReconcilerConfig>;
  /** The run lease: a run that writes waits for the other reconciling functions (none when not given). */
  lease?: RunLease;
}

export type ReconcileSummary = Pick<ReconcileReport, 'dryRun' | 'counts' | 'regions' | 'apiCalls'> & {
  /** A dry run's planned changes (what `npm run plan` prints), cut to fit Lambda's response limit. */
  changes?: ChangeLine[];
  /** How many planned changes were cut from `changes`, when any were. */
  changesNotShown?: number;
};

/** Lambda answers at most 6 MB; the planned changes stay well within it, the rest is counted. */
export const MAX_ANSWER_CHANGE_BYTES = 4 * 1024 * 1024;

/**
 * The EventBridge schedule (or a manual invoke, see docs/operations.md). Applies what it can, logs
 * the report, then fails the invocation if any region or action failed so the Errors metric fires.
 */
export function createHandler(deps: ReconcileHandlerDeps) {
  const metrics = deps.metrics ?? noMetrics;
  return middy<unknown, ReconcileSummary>()
    .use(publishMetrics(metrics))
    .use(errorLogging(deps.logger, 'reconcile invocation failed'))
    .handler(async (event, context) => {
      const trigger = parseReconcileTrigger(event);
      const logger = deps.logger.forInvocation(context, { awsRequestId: context.awsRequestId, trigger });
      deps.clients.calls.reset();
      const config = configForTrigger(await deps.loadConfig(), trigger);
      const run = () => reconcile({ clients: deps.clients, logger }, config);
      // A dry run writes nothing, so it needs no lease.
      const report = config.dryRun
        ? await run()
        : await (deps.lease ?? noLease).hold(`reconcile ${context.awsRequestId}`, leaseTiming(context), run);
      recordRunMetrics(metrics, report);
      logger.debug('reconcile results', { results: report.results, skipped: report.skipped });
      if (report.failed) throw failureOf(report);
      return {
        dryRun: report.dryRun,
        counts: report.counts,
        regions: report.regions,
        apiCalls: report.apiCalls,
        ...(report.dryRun ? plannedChanges(report) : {}),
      };
    });
}

/** The planned changes of a dry run, cut with a count past MAX_ANSWER_CHANGE_BYTES. */
function plannedChanges(report: ReconcileReport): Pick<ReconcileSummary, 'changes' | 'changesNotShown'> {
  const all = changesOf(report);
  const changes: ChangeLine[] = [];
  let bytes = 0;
  for (const change of all) {
    bytes += Buffer.byteLength(JSON.stringify(change)) + 1;
    if (bytes > MAX_ANSWER_CHANGE_BYTES) break;
    changes.push(change);
  }
  return {
    changes,
    ...(changes.length < all.length ? { changesNotShown: all.length - changes.length } : {}),
  };
}

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  try {
    const { clients, logger, metrics, loadConfig, lease } = reconcilerWiring(env, { requireStackId: false });
    return createHandler({ clients, logger, metrics, loadConfig, lease });
  } catch (error) {
    return coldStartFailure(error);
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
