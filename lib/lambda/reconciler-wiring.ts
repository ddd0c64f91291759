import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AwsClients, createAwsClients } from '../aws/clients';
import type { Logger } from '../observability/logger';
import type { MetricsSink } from '../observability/metrics';
import type { ReconcilerConfig } from '../reconciler/types';
import { cachedConfigLoader, readDeployedConfig } from './deployed-config';
import {
  type HandlerEnv,
  type LoadHandlerEnvOptions,
  loadHandlerEnv,
  serviceLogger,
  serviceMetrics,
} from './env';
import { dynamoLease, type RunLease } from './lease';

/**
 * What every reconciling function builds once per container from its environment: the validated
 * environment, the AWS clients, its logger and metrics, and the loader of the configuration the stack
 * wrote (read once, cached).
 */
export interface ReconcilerWiring {
  loaded: HandlerEnv;
  clients: AwsClients;
  logger: Logger;
  metrics: MetricsSink;
  loadConfig: () => Promise<ReconcilerConfig>;
  /** The deployment's run lease: the reconciling functions never write at the same time. */
  lease: RunLease;
}

export function reconcilerWiring(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadHandlerEnvOptions,
): ReconcilerWiring {
  const loaded = loadHandlerEnv(env, options);
  const clients = createAwsClients({ region: loaded.region, endpoint: loaded.endpoint });
  const context = { stage: loaded.stage, region: loaded.region };
  return {
    loaded,
    clients,
    logger: serviceLogger(loaded.logLevel, loaded.stage),
    metrics: serviceMetrics(loaded.stage),
    loadConfig: cachedConfigLoader(() => readDeployedConfig(clients, loaded.configLocation, context)),
    lease: dynamoLease(
      new DynamoDBClient({
        region: loaded.region,
        ...(loaded.endpoint ? { endpoint: loaded.endpoint } : {}),
      }),
      { table: loaded.leaseTable },
    ),
  };
}
