import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { SQSEvent } from 'aws-lambda';
import type { AwsClients } from '../lib/aws/clients';
import { ConfigError, toAwsCallError } from '../lib/errors';
import { coldStartFailure } from '../lib/lambda/env';
import { errorLogging } from '../lib/lambda/errors';
import { noLease, type RunLease } from '../lib/lambda/lease';
import { publishMetrics } from '../lib/lambda/metrics-middleware';
import { reconcilerWiring } from '../lib/lambda/reconciler-wiring';
import type { Logger } from '../lib/observability/logger';
import { type MetricsSink, noMetrics } from '../lib/observability/metrics';
import { DEFAULT_WAIT, type WaitOptions } from '../lib/reconciler/events/cluster-event';
import { type ClusterEventOutcome, handleClusterEventMessage } from '../lib/reconciler/events/consume';
import { failureOf, recordRunMetrics } from '../lib/reconciler/report';
import type { ReconcilerConfig } from '../lib/reconciler/types';

export interface ClusterEventsHandlerDeps {
  clients: AwsClients;
  logger: Logger;
  metrics?: MetricsSink;
  loadConfig: () => Promise<ReconcilerConfig>;
  requeue: (body: string, delaySeconds: number) => Promise<void>;
  wait?: WaitOptions;
  now?: () => Date;
  /** The run lease: a message whose cluster cannot be worked on now waits its turn (none when not given). */
  lease?: RunLease;
}

/**
 * The cluster-events queue's consumer (batch size 1): a CreateCluster or DeleteCluster call, or its own
 * "look again" message. Wiring only: the decision and the work are in lib/reconciler/events. A run with
 * failures fails the message, which SQS delivers again and, after its last receive, to the dead-letter
 * queue (alarmed).
 */
export function createHandler(deps: ClusterEventsHandlerDeps) {
  const metrics = deps.metrics ?? noMetrics;
  return middy<SQSEvent, ClusterEventOutcome[]>()
    .use(publishMetrics(metrics))
    .use(errorLogging(deps.logger, 'cluster event failed'))
    .handler(async (event, context) => {
      const logger = deps.logger.forInvocation(context, { awsRequestId: context.awsRequestId });
      const config = await deps.loadConfig();
      const outcomes: ClusterEventOutcome[] = [];
      for (const record of event.Records ?? []) {
        deps.clients.calls.reset();
        const outcome = await handleClusterEventMessage(
          {
            clients: deps.clients,
            logger,
            requeue: deps.requeue,
            ...(deps.now ? { now: deps.now } : {}),
            // Tried once: a busy lease puts the message back on the queue rather than holding this one.
            exclusive: (work) =>
              (deps.lease ?? noLease).hold(
                `cluster-events ${context.awsRequestId}`,
                { waitMs: 0, holdMs: context.getRemainingTimeInMillis() },
                work,
              ),
          },
          config,
          record.body,
          deps.wait ?? DEFAULT_WAIT,
        );
        metrics.count(`ClusterEvent_${outcome.outcome}`, 1);
        if (outcome.outcome === 'reconciled') {
          recordRunMetrics(metrics, outcome.report);
          if (outcome.report.failed) throw failureOf(outcome.report);
        }
        outcomes.push(outcome);
      }
      return outcomes;
    });
}

/** Wait bounds from the environment: CLUSTER_EVENT_MAX_WAIT_MINUTES (1-720), CLUSTER_EVENT_POLL_SECONDS (10-900). */
export function waitOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): WaitOptions {
  const read = (name: string, min: number, max: number, fallback: number) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    }
    return value;
  };
  return {
    maxWaitMs: read('CLUSTER_EVENT_MAX_WAIT_MINUTES', 1, 720, DEFAULT_WAIT.maxWaitMs / 60_000) * 60_000,
    pollSeconds: read('CLUSTER_EVENT_POLL_SECONDS', 10, 900, DEFAULT_WAIT.pollSeconds),
  };
}

function handlerFromEnv(env: NodeJS.ProcessEnv) {
  try {
    const { loaded, clients, logger, metrics, loadConfig, lease } = reconcilerWiring(env, {
      requireStackId: false,
    });
    const queueUrl = env.CLUSTER_EVENTS_QUEUE_URL?.trim();
    if (!queueUrl) {
      throw new ConfigError(
        'CLUSTER_EVENTS_QUEUE_URL is required (the queue this function reads, set by the stack)',
      );
    }
    const sqs = new SQSClient({
      region: loaded.region,
      ...(loaded.endpoint ? { endpoint: loaded.endpoint } : {}),
    });
    return createHandler({
      clients,
      logger,
      metrics,
      loadConfig,
      lease,
      requeue: async (body, delaySeconds) => {
        try {
          await sqs.send(
            new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delaySeconds }),
          );
        } catch (error) {
          throw toAwsCallError('SQS SendMessage', error);
        }
      },
      wait: waitOptionsFromEnv(env),
    });
  } catch (error) {
    return coldStartFailure(error);
  }
}

/** Built once per container at cold start. */
export const handler = handlerFromEnv(process.env);
