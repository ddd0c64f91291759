import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsClients } from '../lib/aws/clients';
import { runWithAbortSignal, withAbortGate } from '../lib/lambda/abort-gate';
import type { CfnEvent, ResponseUrlPolicy } from '../lib/lambda/cfn-event';
import { cloudFormationHandler } from '../lib/lambda/cfn-middleware';
import { putResponse, type SendResponse } from '../lib/lambda/cfn-response';
import {
  type CustomResourceContext,
  handleCustomResourceEvent,
  physicalResourceIdOnError,
  unconfiguredOutcome,
  unconfiguredPhysicalResourceId,
} from '../lib/lambda/custom-resource';
import { cachedConfigLoader, readDeployedConfig } from '../lib/lambda/deployed-config';
import { loadHandlerEnv, serviceLogger, serviceMetrics } from '../lib/lambda/env';
import { dynamoLease, leaseTiming, noLease, type RunLease } from '../lib/lambda/lease';
import { runWithDeadline } from '../lib/lambda/timeout-guard';
import type { Logger } from '../lib/observability/logger';

/** The context the handling needs, plus how the handler answers CloudFormation. */
export interface CustomResourceHandlerDeps extends CustomResourceContext {
  /** Loopback http ResponseURLs are answered only against the local emulator. */
  responseUrlPolicy?: ResponseUrlPolicy;
  sendResponse?: SendResponse;
  /** Answer FAILED this long before the Lambda deadline if the work is still running. */
  timeoutMarginMs?: number;
  /** The run lease: the reconcile or teardown waits for the other reconciling functions (none when not given). */
  lease?: RunLease;
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
    responseUrlPolicy: deps.responseUrlPolicy ?? STRICT_RESPONSE_URLS,
  };
  const { deployment, loadConfig, metrics } = deps;
  return cloudFormationHandler(options, (event, context) => {
    const logger = deps.logger.forInvocation(context, {
      awsRequestId: context.awsRequestId,
      requestType: event.RequestType,
      cfnRequestId: event.RequestId,
      logicalResourceId: event.LogicalResourceId,
    });
    logger.info('custom resource request received', { stackId: event.StackId });
    return runWithDeadline(
      (signal) =>
        runWithAbortSignal(signal, () =>
          handleCustomResourceEvent(
            {
              clients,
              logger,
              stage,
              region,
              deployment,
              loadConfig,
              ...(metrics ? { metrics } : {}),
              exclusive: (work) =>
                (deps.lease ?? noLease).hold(
                  `custom-resource ${context.awsRequestId}`,
                  leaseTiming(context),
                  work,
                ),
            },
            event,
          ),
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
  responseUrlPolicy: ResponseUrlPolicy = STRICT_RESPONSE_URLS,
) {
  const options = {
    logger,
    sendResponse,
    physicalResourceIdOnError: unconfiguredPhysicalResourceId,
    responseUrlPolicy,
  };
  return cloudFormationHandler(options, (event) => unconfiguredOutcome(error, event));
}

const STRICT_RESPONSE_URLS: ResponseUrlPolicy = { allowLoopbackHttp: false };

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  // Only against the local emulator may a response go to a loopback http URL.
  const responseUrlPolicy = { allowLoopbackHttp: Boolean(env.AWS_ENDPOINT_URL?.trim()) };
  try {
    const loaded = loadHandlerEnv(env, { requireStackId: true });
    const clients = createAwsClients({ region: loaded.region, endpoint: loaded.endpoint });
    const context = { stage: loaded.stage, region: loaded.region };
    return createHandler({
      clients,
      logger: serviceLogger(loaded.logLevel, loaded.stage),
      stage: loaded.stage,
      region: loaded.region,
      metrics: serviceMetrics(loaded.stage),
      deployment: { stackId: loaded.stackId ?? '', configVersion: loaded.configLocation.version },
      lease: dynamoLease(
        new DynamoDBClient({
          region: loaded.region,
          ...(loaded.endpoint ? { endpoint: loaded.endpoint } : {}),
        }),
        { table: loaded.leaseTable },
      ),
      loadConfig: cachedConfigLoader(() => readDeployedConfig(clients, loaded.configLocation, context)),
      responseUrlPolicy,
    });
  } catch (error) {
    return createUnconfiguredHandler(error, serviceLogger('INFO'), putResponse, responseUrlPolicy);
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
