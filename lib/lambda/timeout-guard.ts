import { DeadlineExceededError } from '../errors';

export interface DeadlineOptions {
  /** `context.getRemainingTimeInMillis()` when the work starts. */
  remainingTimeMs: number;
  /** How long before the Lambda deadline the guard gives up, leaving time to answer. */
  marginMs: number;
}

/**
 * Runs `work` and rejects with DeadlineExceededError `marginMs` before the Lambda deadline if it has
 * not settled by then. The work receives an AbortSignal that is aborted at that moment, so it can
 * stop making calls; a late result or error of abandoned work is dropped, never unhandled.
 */
export function runWithDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions,
): Promise<T> {
  const budgetMs = Math.max(0, options.remainingTimeMs - options.marginMs);
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      const error = new DeadlineExceededError(
        `timed out: the work was still running ${Math.min(options.marginMs, options.remainingTimeMs)} ms before the Lambda deadline`,
      );
      controller.abort(error);
      reject(error);
    }, budgetMs);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      settle();
    };
    let promise: Promise<T>;
    try {
      promise = work(controller.signal);
    } catch (error) {
      finish(() => reject(error));
      return;
    }
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}
