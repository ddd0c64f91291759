import middy from '@middy/core';
import { type AwsClients, createAwsClients } from '../lib/aws/clients';
import { coldStartFailure, loadHandlerEnv, serviceLogger } from '../lib/handlers/env';
import { errorLogging, ReconcileFailedError } from '../lib/handlers/errors';
import { configForTrigger, parseReconcileTrigger } from '../lib/handlers/scheduled-event';
import type { Logger } from '../lib/logger';
import { reconcile } from '../lib/reconciler/reconcile';
import type { ReconcileReport, ReconcilerConfig } from '../lib/reconciler/types';

export interface ReconcileHandlerDeps {
  clients: AwsClients;
  logger: Logger;
  config: ReconcilerConfig;
}

export type ReconcileSummary = Pick<ReconcileReport, 'dryRun' | 'counts' | 'regions' | 'apiCalls'>;

/**
 * The EventBridge schedule (or a manual invoke, see docs/operations.md). Applies what it can, logs
 * the report, then fails the invocation if any region or action failed so the Errors metric fires.
 */
export function createHandler(deps: ReconcileHandlerDeps) {
  return middy<unknown, ReconcileSummary>()
    .use(errorLogging(deps.logger, 'reconcile invocation failed'))
    .handler(async (event, context) => {
      const trigger = parseReconcileTrigger(event);
      const logger = deps.logger.child({ awsRequestId: context.awsRequestId, trigger });
      deps.clients.calls.reset();
      const report = await reconcile(
        { clients: deps.clients, logger },
        configForTrigger(deps.config, trigger),
      );
      logger.debug('reconcile results', { results: report.results, skipped: report.skipped });
      if (report.failed) throw new ReconcileFailedError(report);
      return {
        dryRun: report.dryRun,
        counts: report.counts,
        regions: report.regions,
        apiCalls: report.apiCalls,
      };
    });
}

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  try {
    const loaded = loadHandlerEnv(env, { requireReconcilerConfig: true });
    if (!loaded.config) throw new Error('RECONCILER_CONFIG was not loaded');
    return createHandler({
      clients: createAwsClients({ region: loaded.region, endpoint: loaded.endpoint }),
      logger: serviceLogger(loaded.logLevel, loaded.stage),
      config: loaded.config,
    });
  } catch (error) {
    return coldStartFailure(error);
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
