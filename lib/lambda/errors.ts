import type { MiddlewareObj } from '@middy/core';
import { describeError, IrsaReconcilerError, isRetryableAwsError } from '../errors';
import type { Logger } from '../observability/logger';
import type { Action, ReconcileReport } from '../reconciler/types';

/** A run finished but some region could not be scanned or some action failed. */
export class ReconcileFailedError extends IrsaReconcilerError {
  readonly report: ReconcileReport;

  constructor(report: ReconcileReport) {
    super(`Reconcile finished with failures: ${describeFailures(report)}`, {
      retryable: failuresAreRetryable(report),
    });
    this.name = 'ReconcileFailedError';
    this.report = report;
  }
}

/** The handler did not finish before its deadline. */
export class DeadlineExceededError extends IrsaReconcilerError {
  constructor(message: string) {
    super(message, { retryable: true });
    this.name = 'DeadlineExceededError';
  }
}

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

/** Short text of what failed in a report: unknown regions first, then failed actions. */
export function describeFailures(
  report: ReconcileReport,
  options: { includeRegions?: boolean } = {},
): string {
  const parts: string[] = [];
  if (options.includeRegions ?? true) {
    for (const region of report.regions) {
      if (region.status === 'unknown')
        parts.push(`region ${region.region} unknown (${region.error ?? 'scan failed'})`);
    }
  }
  for (const { action, outcome } of report.results) {
    if (outcome.status === 'failed') parts.push(`${describeAction(action)} failed (${outcome.error})`);
  }
  return parts.length > 0 ? parts.join('; ') : 'no failure recorded';
}

/** Whether a teardown (stack delete) left something behind: only failed actions count there. */
export function hasFailedActions(report: ReconcileReport): boolean {
  return report.results.some(({ outcome }) => outcome.status === 'failed');
}

export function describeAction(action: Action): string {
  switch (action.kind) {
    case 'create-oidc-provider':
      return `create-oidc-provider ${action.provider.issuerUrl}`;
    case 'create':
      return `create ${action.role.roleName}`;
    case 'put-policy':
    case 'delete-policy':
      return `${action.kind} ${action.roleName}/${action.policyName}`;
    default:
      return `${action.kind} ${action.roleName}`;
  }
}

function failuresAreRetryable(report: ReconcileReport): boolean {
  return report.results.every(({ outcome }) => outcome.status !== 'failed' || outcome.retryable);
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
