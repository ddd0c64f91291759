import { InvalidEventError, LeaseBusyError } from '../../errors';
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
  /**
   * Runs the reconcile while no other run of the deployment writes (the run lease); throws
   * LeaseBusyError, without running it, while another does. The message then waits its turn.
   */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
}

export type ClusterEventOutcome =
  | { outcome: 'reconciled'; event: ClusterEvent; report: ReconcileReport }
  | { outcome: 'waiting'; event: ClusterEvent; delaySeconds: number; reason: string }
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
  const now = (deps.now ?? (() => new Date()))();
  const lookAgain = async (delaySeconds: number, reason: string): Promise<ClusterEventOutcome> => {
    const requeued: Requeued = { clusterEvent: { ...event, eventTime: event.eventTime.toISOString() } };
    await deps.requeue(JSON.stringify(requeued), delaySeconds);
    deps.logger.info(`${reason}; looking again later`, {
      cluster: event.clusterName,
      region: event.region,
      delaySeconds,
    });
    return { outcome: 'waiting', event, delaySeconds, reason };
  };
  const cluster = await describeCluster(deps, event.region, event.clusterName);
  const step = nextStep(event, cluster?.status ?? 'absent', now, wait);
  if (step.action === 'wait') return lookAgain(step.delaySeconds, `cluster is ${cluster?.status}`);
  if (step.action === 'give-up') {
    deps.logger.info(step.reason, { cluster: event.clusterName, region: event.region });
    return { outcome: 'gave-up', event, reason: step.reason };
  }
  const exclusive = deps.exclusive ?? ((work) => work());
  try {
    const report = await exclusive(() =>
      reconcileCluster(deps, config, { region: event.region, name: event.clusterName }),
    );
    return { outcome: 'reconciled', event, report };
  } catch (error) {
    if (!(error instanceof LeaseBusyError)) throw error;
    if (now.getTime() - event.eventTime.getTime() > wait.maxWaitMs) {
      const reason = `another run held the lease until past the wait bound (${error.heldBy}); left to the scheduled run`;
      deps.logger.info(reason, { cluster: event.clusterName, region: event.region });
      return { outcome: 'gave-up', event, reason };
    }
    return lookAgain(wait.pollSeconds, `another run holds the lease (${error.heldBy})`);
  }
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
