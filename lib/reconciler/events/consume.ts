import { InvalidEventError } from '../../errors';
import type { ReconcilerDeps } from '../deps';
import { reconcileCluster } from '../index';
import { describeCluster } from '../observe/discovery';
import type { ReconcileReport, ReconcilerConfig } from '../types';
import { type ClusterEvent, nextStep, parseClusterEvent, type WaitOptions } from './cluster-event';

/**
 * One message of the cluster-events queue: the EventBridge event the rule delivered, or a cluster
 * event this consumer put back to look again later. The cluster's state decides (cluster-event.ts);
 * the work is reconcileCluster, the full run's code on one cluster.
 */

export interface ClusterEventDeps extends ReconcilerDeps {
  /** Puts a message back on the queue, delivered again after `delaySeconds` (at most 900). */
  requeue: (body: string, delaySeconds: number) => Promise<void>;
  now?: () => Date;
}

export type ClusterEventOutcome =
  | { outcome: 'reconciled'; event: ClusterEvent; report: ReconcileReport }
  | { outcome: 'waiting'; event: ClusterEvent; delaySeconds: number }
  | { outcome: 'gave-up'; event: ClusterEvent; reason: string }
  | { outcome: 'ignored'; reason: string };

/** A re-queued message carries the event itself, with its original time. */
interface Requeued {
  clusterEvent: { kind: ClusterEvent['kind']; region: string; clusterName: string; eventTime: string };
}

export async function handleClusterEventMessage(
  deps: ClusterEventDeps,
  config: ReconcilerConfig,
  body: string,
  wait: WaitOptions,
): Promise<ClusterEventOutcome> {
  const event = readMessage(body);
  if (!config.regions.includes(event.region)) {
    return { outcome: 'ignored', reason: `region ${event.region} is not scanned by this deployment` };
  }
  const cluster = await describeCluster(deps, event.region, event.clusterName);
  const step = nextStep(event, cluster?.status ?? 'absent', (deps.now ?? (() => new Date()))(), wait);
  if (step.action === 'wait') {
    const requeued: Requeued = { clusterEvent: { ...event, eventTime: event.eventTime.toISOString() } };
    await deps.requeue(JSON.stringify(requeued), step.delaySeconds);
    deps.logger.info('cluster not settled yet; looking again later', {
      cluster: event.clusterName,
      region: event.region,
      status: cluster?.status,
      delaySeconds: step.delaySeconds,
    });
    return { outcome: 'waiting', event, delaySeconds: step.delaySeconds };
  }
  if (step.action === 'give-up') {
    deps.logger.info(step.reason, { cluster: event.clusterName, region: event.region });
    return { outcome: 'gave-up', event, reason: step.reason };
  }
  const report = await reconcileCluster(deps, config, { region: event.region, name: event.clusterName });
  return { outcome: 'reconciled', event, report };
}

function readMessage(body: string): ClusterEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidEventError('the message body is not JSON');
  }
  const requeued = (parsed as Partial<Requeued> | null)?.clusterEvent;
  if (requeued === undefined) return parseClusterEvent(parsed);
  // Our own message: read through the same checks as an event from CloudTrail.
  return parseClusterEvent({
    source: 'aws.eks',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: {
      eventName: requeued.kind === 'created' ? 'CreateCluster' : 'DeleteCluster',
      awsRegion: requeued.region,
      eventTime: requeued.eventTime,
      requestParameters: { name: requeued.clusterName },
    },
  });
}
