import { DeadlineExceededError } from '../../../lib/errors';
import { runWithDeadline } from '../../../lib/lambda/timeout-guard';

describe('runWithDeadline', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('rejects with DeadlineExceededError the margin before the deadline and aborts the work', async () => {
    // Prepare
    let signal: AbortSignal | undefined;
    const outcome = runWithDeadline(
      (workSignal) => {
        signal = workSignal;
        return new Promise<string>(() => undefined);
      },
      { remainingTimeMs: 60_000, marginMs: 5_000 },
    );
    const settled = jest.fn();
    const rejection = expect(outcome).rejects.toThrow('still running 5000 ms before the Lambda deadline');
    outcome.then(settled, settled);

    // Act
    await jest.advanceTimersByTimeAsync(54_999);
    const settledEarly = settled.mock.calls.length;
    await jest.advanceTimersByTimeAsync(1);

    // Assess
    expect(settledEarly).toBe(0);
    await rejection;
    await expect(outcome).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(DeadlineExceededError);
  });

  it('resolves with the work result and clears its timer when the work finishes in time', async () => {
    const outcome = runWithDeadline(
      () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 1_000)),
      { remainingTimeMs: 60_000, marginMs: 5_000 },
    );

    await jest.advanceTimersByTimeAsync(1_000);

    await expect(outcome).resolves.toBe('done');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('passes on the error of work that fails in time', async () => {
    const outcome = runWithDeadline(() => Promise.reject(new Error('boom')), {
      remainingTimeMs: 60_000,
      marginMs: 5_000,
    });

    await expect(outcome).rejects.toThrow('boom');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('drops the late result of abandoned work instead of leaving it unhandled', async () => {
    // Prepare
    const late = jest.fn();
    const outcome = runWithDeadline(
      () =>
        new Promise<string>((_resolve, reject) =>
          setTimeout(() => {
            late();
            reject(new Error('late failure'));
          }, 20_000),
        ),
      { remainingTimeMs: 12_000, marginMs: 2_000 },
    );
    const rejection = expect(outcome).rejects.toBeInstanceOf(DeadlineExceededError);

    // Act
    await jest.advanceTimersByTimeAsync(20_000);

    // Assess
    await rejection;
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('gives up at once when less time than the margin is left', async () => {
    const outcome = runWithDeadline(() => new Promise<void>(() => undefined), {
      remainingTimeMs: 1_000,
      marginMs: 5_000,
    });
    const rejection = expect(outcome).rejects.toThrow('still running 1000 ms before the Lambda deadline');

    await jest.advanceTimersByTimeAsync(0);

    await rejection;
  });
});
