import { type AwsClients, createAwsClients } from '../lib/aws/clients';
import { runWithAbortSignal, withAbortGate } from '../lib/handlers/abort-gate';
import type { CfnEvent } from '../lib/handlers/cfn-event';
import { cloudFormationHandler } from '../lib/handlers/cfn-middleware';
import { putResponse, type SendResponse } from '../lib/handlers/cfn-response';
import {
  handleCustomResourceEvent,
  physicalResourceIdOnError,
  unconfiguredOutcome,
  unconfiguredPhysicalResourceId,
} from '../lib/handlers/custom-resource';
import { loadHandlerEnv, serviceLogger } from '../lib/handlers/env';
import { runWithDeadline } from '../lib/handlers/timeout-guard';
import type { Logger } from '../lib/logger';

export interface CustomResourceHandlerDeps {
  clients: AwsClients;
  logger: Logger;
  stage: string;
  region: string;
  sendResponse?: SendResponse;
  /** Answer FAILED this long before the Lambda deadline if the work is still running. */
  timeoutMarginMs?: number;
}

export const DEFAULT_TIMEOUT_MARGIN_MS = 30_000;

/** The CloudFormation custom resource: reconcile on Create/Update, tear down on Delete, always answer. */
export function createHandler(deps: CustomResourceHandlerDeps) {
  const clients = withAbortGate(deps.clients);
  const { stage, region } = deps;
  const options = {
    logger: deps.logger,
    sendResponse: deps.sendResponse ?? putResponse,
    physicalResourceIdOnError: (event: CfnEvent) => physicalResourceIdOnError(event, stage),
  };
  return cloudFormationHandler(options, (event, context) => {
    const logger = deps.logger.child({
      awsRequestId: context.awsRequestId,
      requestType: event.RequestType,
      cfnRequestId: event.RequestId,
      logicalResourceId: event.LogicalResourceId,
    });
    logger.info('custom resource request received', { stackId: event.StackId });
    return runWithDeadline(
      (signal) =>
        runWithAbortSignal(signal, () =>
          handleCustomResourceEvent({ clients, logger, stage, region }, event),
        ),
      {
        remainingTimeMs: context.getRemainingTimeInMillis(),
        marginMs: deps.timeoutMarginMs ?? DEFAULT_TIMEOUT_MARGIN_MS,
      },
    );
  });
}

/**
 * A container whose environment is invalid still answers CloudFormation: FAILED for Create and
 * Update (naming the variable), SUCCESS for the Delete that rolls back a Create that never started.
 */
export function createUnconfiguredHandler(
  error: unknown,
  logger: Logger,
  sendResponse: SendResponse = putResponse,
) {
  const options = { logger, sendResponse, physicalResourceIdOnError: unconfiguredPhysicalResourceId };
  return cloudFormationHandler(options, (event) => unconfiguredOutcome(error, event));
}

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  try {
    const loaded = loadHandlerEnv(env, { requireReconcilerConfig: false });
    return createHandler({
      clients: createAwsClients({ region: loaded.region, endpoint: loaded.endpoint }),
      logger: serviceLogger(loaded.logLevel, loaded.stage),
      stage: loaded.stage,
      region: loaded.region,
    });
  } catch (error) {
    return createUnconfiguredHandler(error, serviceLogger('INFO'));
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
