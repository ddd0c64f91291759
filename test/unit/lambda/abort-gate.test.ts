import { ListClustersCommand } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createAwsClients } from '../../../lib/aws/clients';
import { DeadlineExceededError } from '../../../lib/errors';
import { runWithAbortSignal, withAbortGate } from '../../../lib/lambda/abort-gate';
import { closedPort } from './support';

describe('withAbortGate', () => {
  async function gatedClients() {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    return withAbortGate(
      createAwsClients({
        region: 'eu-west-1',
        endpoint,
        maxAttempts: 1,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      }),
    );
  }

  it('refuses every call of work whose invocation was abandoned, before it leaves the process', async () => {
    // Prepare
    const clients = await gatedClients();
    const controller = new AbortController();
    controller.abort(new DeadlineExceededError('timed out'));

    // Act
    const call = runWithAbortSignal(controller.signal, () =>
      clients.sts.send(new GetCallerIdentityCommand({})),
    );

    // Assess
    await expect(call).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(clients.calls.total()).toBe(0);
  });

  it('lets calls of a live invocation through, also on clients created later for another region', async () => {
    // Prepare
    const clients = await gatedClients();
    const live = new AbortController();

    // Act
    const call = runWithAbortSignal(live.signal, () =>
      clients.eks('ap-south-1').send(new ListClustersCommand({})),
    );

    // Assess: it reached the network (nothing listens there)
    await expect(call).rejects.toThrow(/ECONNREFUSED/);
  });

  it('keeps each invocation on its own signal when the abandoned one resumes later', async () => {
    // Prepare
    const clients = await gatedClients();
    const abandoned = new AbortController();
    let resume: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    const abandonedWork = runWithAbortSignal(abandoned.signal, async () => {
      await paused;
      return clients.sts.send(new GetCallerIdentityCommand({}));
    });

    // Act: the guard gives up, a new invocation runs, then the old work wakes up
    abandoned.abort(new DeadlineExceededError('timed out'));
    const next = runWithAbortSignal(new AbortController().signal, () =>
      clients.sts.send(new GetCallerIdentityCommand({})),
    );
    const abandonedOutcome = expect(abandonedWork).rejects.toBeInstanceOf(DeadlineExceededError);
    resume();

    // Assess
    await expect(next).rejects.toThrow(/ECONNREFUSED/);
    await abandonedOutcome;
  });
});
