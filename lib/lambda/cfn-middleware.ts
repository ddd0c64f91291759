import middy, { type MiddlewareObj, type Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { RefusedRequestError } from '../errors';
import type { Logger } from '../observability/logger';
import {
  type CfnEvent,
  isTrustedResponseUrl,
  parseCfnEvent,
  physicalResourceIdOf,
  type ResponseUrlPolicy,
  recoverResponseTarget,
  responseTargetOf,
} from './cfn-event';
import { type CfnOutcome, createResponder, type Responder, type SendResponse } from './cfn-response';
import { notCreatedPhysicalResourceId } from './custom-resource';
import { classifyError } from './errors';

/** What the Lambda invocation returns once CloudFormation has its answer. */
export interface CfnInvocationResult {
  Status: CfnOutcome['status'];
  PhysicalResourceId: string;
  Reason?: string;
}

export interface CfnResponseMiddlewareOptions {
  logger: Logger;
  sendResponse: SendResponse;
  /** The PhysicalResourceId to answer FAILED with when the handler throws. */
  physicalResourceIdOnError: (event: CfnEvent) => string;
  /** Which ResponseURLs may be answered (isTrustedResponseUrl); a request with another is refused unanswered. */
  responseUrlPolicy: ResponseUrlPolicy;
}

/**
 * Guarantees exactly one answer to CloudFormation per request: the handler's outcome, FAILED with a
 * readable Reason when it throws or times out, FAILED at the recovered ResponseURL for an invalid
 * event. An invocation that delivered its answer ends normally (a Lambda retry of an async invoke
 * would run the request twice); one that could not answer fails, so Lambda retries it.
 */
export function cloudFormationResponse(
  options: CfnResponseMiddlewareOptions,
): MiddlewareObj<unknown, CfnOutcome | CfnInvocationResult> {
  const invocations = new WeakMap<object, { event: CfnEvent; responder: Responder }>();
  const { logger } = options;

  const before = async (request: Request<unknown, CfnOutcome | CfnInvocationResult>) => {
    const raw = request.event;
    const untrusted = untrustedResponseUrl(raw, options.responseUrlPolicy);
    if (untrusted !== undefined) {
      const error = new RefusedRequestError(
        `request refused: ResponseURL ${JSON.stringify(untrusted)} is not an https URL on an S3 host, as ` +
          'CloudFormation sends; no response is sent there and nothing is changed',
      );
      logger.error('custom resource request refused', { error });
      throw error;
    }
    let event: CfnEvent;
    try {
      event = parseCfnEvent(raw);
    } catch (error) {
      const target = recoverResponseTarget(raw);
      if (!target) {
        logger.error('invalid CloudFormation event without a usable ResponseURL: no response can be sent', {
          error,
        });
        throw error;
      }
      const outcome: CfnOutcome = {
        status: 'FAILED',
        reason: withLogHint(classifyError(error).reason, request.context),
        physicalResourceId: physicalResourceIdOf(raw) ?? notCreatedPhysicalResourceId(target.requestId),
      };
      await createResponder(target, options.sendResponse, logger).send(outcome);
      return invocationResult(outcome);
    }
    request.event = event;
    invocations.set(request, {
      event,
      responder: createResponder(responseTargetOf(event), options.sendResponse, logger),
    });
    return undefined;
  };

  const after = async (request: Request<unknown, CfnOutcome | CfnInvocationResult>) => {
    const state = invocations.get(request);
    const outcome = request.response;
    if (!state || !outcome || !('status' in outcome)) return;
    const answer =
      outcome.status === 'FAILED'
        ? { ...outcome, reason: withLogHint(outcome.reason ?? '', request.context) }
        : outcome;
    await state.responder.send(answer);
    request.response = invocationResult(answer);
  };

  const onError = async (request: Request<unknown, CfnOutcome | CfnInvocationResult>) => {
    const state = invocations.get(request);
    const classified = classifyError(request.error);
    logger.error('custom resource request failed', { ...classified, error: request.error });
    if (!state || state.responder.sent) return;
    const outcome: CfnOutcome = {
      status: 'FAILED',
      reason: withLogHint(classified.reason, request.context),
      physicalResourceId: options.physicalResourceIdOnError(state.event),
    };
    await state.responder.send(outcome);
    request.response = invocationResult(outcome);
  };

  return { before, after, onError, name: 'cloudFormationResponse' };
}

/** The event's ResponseURL when it is present and not one CloudFormation would send. */
function untrustedResponseUrl(raw: unknown, policy: ResponseUrlPolicy): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const url = (raw as Record<string, unknown>).ResponseURL;
  if (url === undefined) return undefined;
  if (typeof url !== 'string') return String(url);
  return isTrustedResponseUrl(url, policy) ? undefined : url;
}

function invocationResult(outcome: CfnOutcome): CfnInvocationResult {
  return {
    Status: outcome.status,
    PhysicalResourceId: outcome.physicalResourceId,
    ...(outcome.reason ? { Reason: outcome.reason } : {}),
  };
}

function withLogHint(reason: string, context: Context | undefined): string {
  return context?.logStreamName
    ? `${reason} (details in CloudWatch log stream ${context.logStreamName})`
    : reason;
}

/**
 * A middy handler for CloudFormation custom resource requests: `work` gets the validated event and
 * returns the outcome; cloudFormationResponse delivers it (or FAILED when `work` throws).
 */
export function cloudFormationHandler(
  options: CfnResponseMiddlewareOptions,
  work: (event: CfnEvent, context: Context) => Promise<CfnOutcome>,
) {
  // Timeouts are handled by the work itself (runWithDeadline), not by middy's early timeout.
  return middy<unknown, CfnOutcome | CfnInvocationResult>({ timeoutEarlyInMillis: 0 })
    .use(cloudFormationResponse(options))
    .handler((event, context) => work(event as CfnEvent, context)); // validated and replaced in `before`
}
