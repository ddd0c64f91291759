import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client, MetadataBearer } from '@smithy/types';
import type { AwsClients } from '../aws/clients';

const currentSignal = new AsyncLocalStorage<AbortSignal>();
const gated = new WeakSet<object>();

/**
 * Runs `work` with `signal` attached to every AWS call it makes through gated clients. Once the
 * signal is aborted (the timeout guard gave up and answered), the abandoned work's next call throws
 * instead of writing, even if the container is thawed later for another invocation.
 */
export function runWithAbortSignal<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return currentSignal.run(signal, work);
}

/** The same clients, each refusing to send a request whose invocation was abandoned. */
export function withAbortGate(clients: AwsClients): AwsClients {
  return {
    calls: clients.calls,
    eks: (region) => gate(clients.eks(region)),
    ssm: (region) => gate(clients.ssm(region)),
    ecr: (region) => gate(clients.ecr(region)),
    events: (region) => gate(clients.events(region)),
    ec2: (region) => gate(clients.ec2(region)),
    iam: gate(clients.iam),
    sts: gate(clients.sts),
    s3: gate(clients.s3),
    appconfig: gate(clients.appconfig),
    cloudformation: gate(clients.cloudformation),
  };
}

function gate<C extends Client<object, MetadataBearer, unknown>>(client: C): C {
  if (gated.has(client)) return client;
  gated.add(client);
  client.middlewareStack.add(
    (next) => async (args) => {
      const signal = currentSignal.getStore();
      if (signal?.aborted) throw signal.reason;
      return next(args);
    },
    { step: 'initialize', name: 'irsaReconcilerAbortGate', override: true },
  );
  return client;
}
