import { createAwsClients } from '../../lib/aws/clients';
import { createLogger } from '../../lib/observability/logger';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile } from '../../lib/reconciler/index';
import { EMULATOR_CREDENTIALS } from '../../test/support/moto-server';
import { childEntry } from '../child';

/** One reconcile run in a process of its own (see ../child.ts); the parent measures its memory. */
export interface ReconcileScenarioInput {
  endpoint: string;
  stage: string;
  deploymentRegion: string;
  rawConfig: Record<string, unknown>;
  /** The SDK retry mode of the clients (the handlers use the default, adaptive). */
  retryMode: 'standard' | 'adaptive';
  /** EKS of every region through this endpoint (the Pod Identity fake in front of moto). */
  eksEndpoint?: string;
}

export interface ReconcileScenarioResult {
  wallMs: number;
  apiCalls: Record<string, number>;
  counts: Record<string, number>;
  failed: boolean;
  /** The first few failures, to explain a failed run. */
  failures: string[];
  regions: Array<{ region: string; status: string; clusters: number }>;
}

async function run(input: ReconcileScenarioInput): Promise<ReconcileScenarioResult> {
  const config = parseReconcilerConfig(input.rawConfig, {
    stage: input.stage,
    deploymentRegion: input.deploymentRegion,
  });
  const clients = createAwsClients({
    region: input.deploymentRegion,
    endpoint: input.endpoint,
    credentials: EMULATOR_CREDENTIALS,
    retryMode: input.retryMode,
    ...(input.eksEndpoint
      ? {
          eksEndpoints: Object.fromEntries(config.regions.map((region) => [region, input.eksEndpoint ?? ''])),
        }
      : {}),
  });
  const logger = createLogger({ level: 'ERROR', write: (line) => process.stderr.write(`${line}\n`) });
  const started = performance.now();
  const report = await reconcile({ clients, logger }, config);
  const wallMs = Math.round(performance.now() - started);
  const failures = report.results.flatMap(({ action, outcome }) =>
    outcome.status === 'failed' ? [`${action.kind}: ${outcome.error}`] : [],
  );
  return {
    wallMs,
    apiCalls: report.apiCalls,
    counts: { ...report.counts },
    failed: report.failed,
    failures: failures.slice(0, 5),
    regions: report.regions.map(({ region, status, clusters }) => ({ region, status, clusters })),
  };
}

childEntry(run);
