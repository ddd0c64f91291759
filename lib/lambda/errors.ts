import type { MiddlewareObj } from '@middy/core';
import { describeError, isRetryableAwsError } from '../errors';
import type { Logger } from '../observability/logger';

export type ErrorClassification = 'retryable' | 'terminal';

export interface ClassifiedError {
  classification: ErrorClassification;
  errorName: string;
  /** One readable line, never a JSON dump of the error object. */
  reason: string;
}

/**
 * The one place that decides how a failure is reported. Both kinds fail the invocation; the
 * classification tells the operator whether waiting for the next run is enough (throttling, 5xx,
 * an unreachable region) or a person has to act (bad configuration, access denied, malformed policy).
 */
export function classifyError(error: unknown): ClassifiedError {
  return {
    classification: isRetryableAwsError(error) ? 'retryable' : 'terminal',
    errorName: error instanceof Error ? error.name : typeof error,
    reason: describeError(error),
  };
}

/** Logs a failed invocation once, with its classification, and lets the error fail the invocation. */
export function errorLogging(logger: Logger, message: string): MiddlewareObj {
  return {
    name: 'errorLogging',
    onError: (request) => {
      logger.error(message, { ...classifyError(request.error), error: request.error });
    },
  };
}
