import { createAwsClients } from '../../lib/aws/clients';
import { createLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { observe } from '../../lib/reconciler/observe/observe';
import { EMULATOR_CREDENTIALS } from '../../test/support/moto-server';
import { childEntry } from '../child';

/** One observe of the whole account in a process of its own (see ../child.ts); the parent measures memory. */
export interface ObserveScenarioInput {
  endpoint: string;
  stage: string;
  rawConfig: Record<string, unknown>;
}

export interface ObserveScenarioResult {
  wallMs: number;
  apiCalls: Record<string, number>;
  ownedRoles: number;
  otherRoles: number;
}

async function run(input: ObserveScenarioInput): Promise<ObserveScenarioResult> {
  const config = parseReconcilerConfig(input.rawConfig, {
    stage: input.stage,
    deploymentRegion: 'eu-west-1',
  });
  const clients = createAwsClients({
    region: 'eu-west-1',
    endpoint: input.endpoint,
    credentials: EMULATOR_CREDENTIALS,
  });
  const logger = createLogger({ level: 'ERROR', write: (line) => process.stderr.write(`${line}\n`) });
  const started = performance.now();
  const observed = await observe({ clients, logger }, config, { oidcProviderArns: [] });
  return {
    wallMs: Math.round(performance.now() - started),
    apiCalls: clients.calls.snapshot(),
    ownedRoles: observed.roles.length,
    otherRoles: observed.takenNames?.size ?? 0,
  };
}

childEntry(run);
