import { InvalidEventError } from '../../errors';
import type { ClusterStatus } from '../types';

/**
 * EKS sends no event when a cluster changes state, but CloudTrail delivers its CreateCluster and
 * DeleteCluster API calls to EventBridge ("AWS API Call via CloudTrail", source aws.eks) in the region
 * of the call. This reads such an event and decides, from the cluster's state now, what its consumer
 * does: reconcile the cluster, wait and look again (a new cluster takes 10 to 15 minutes to turn
 * ACTIVE), or give up and leave it to the scheduled run. Duplicate, late and out-of-order events are
 * harmless: the decision follows the state observed, not the event.
 */

export interface ClusterEvent {
  kind: 'created' | 'deleted';
  region: string;
  clusterName: string;
  /** When the API call was made (the wait for ACTIVE is bounded from it). */
  eventTime: Date;
}

export type ClusterEventStep =
  | { action: 'reconcile' }
  | { action: 'wait'; delaySeconds: number }
  | { action: 'give-up'; reason: string };

export interface WaitOptions {
  /** How long after the call a cluster may take to turn ACTIVE (or DELETING) before it is left to the schedule. */
  maxWaitMs: number;
  /** Delay between two looks (SQS allows at most 900 s). */
  pollSeconds: number;
}

export const DEFAULT_WAIT: WaitOptions = { maxWaitMs: 30 * 60_000, pollSeconds: 60 };

const EVENT_NAMES = { CreateCluster: 'created', DeleteCluster: 'deleted' } as const;
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z]{2,4}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

/** The cluster event in an EventBridge event, or an InvalidEventError naming what is wrong. */
export function parseClusterEvent(raw: unknown): ClusterEvent {
  const event = raw as {
    source?: unknown;
    'detail-type'?: unknown;
    detail?: {
      eventSource?: unknown;
      eventName?: unknown;
      awsRegion?: unknown;
      eventTime?: unknown;
      errorCode?: unknown;
      requestParameters?: { name?: unknown } | null;
    };
  };
  if (event?.source !== 'aws.eks' || event['detail-type'] !== 'AWS API Call via CloudTrail') {
    throw new InvalidEventError('expected an "AWS API Call via CloudTrail" event from aws.eks');
  }
  const detail = event.detail ?? {};
  const kind = EVENT_NAMES[String(detail.eventName) as keyof typeof EVENT_NAMES];
  if (kind === undefined) {
    throw new InvalidEventError(
      `detail.eventName: expected CreateCluster or DeleteCluster (got ${JSON.stringify(detail.eventName)})`,
    );
  }
  if (detail.errorCode !== undefined && detail.errorCode !== null) {
    throw new InvalidEventError(
      `the ${String(detail.eventName)} call failed (${String(detail.errorCode)}): nothing changed`,
    );
  }
  const clusterName = detail.requestParameters?.name;
  if (typeof clusterName !== 'string' || !CLUSTER_NAME.test(clusterName)) {
    throw new InvalidEventError(
      `detail.requestParameters.name: not an EKS cluster name (got ${JSON.stringify(clusterName)})`,
    );
  }
  if (typeof detail.awsRegion !== 'string' || !REGION.test(detail.awsRegion)) {
    throw new InvalidEventError(
      `detail.awsRegion: not an AWS region (got ${JSON.stringify(detail.awsRegion)})`,
    );
  }
  const eventTime = new Date(String(detail.eventTime));
  if (Number.isNaN(eventTime.getTime())) {
    throw new InvalidEventError(`detail.eventTime: not a time (got ${JSON.stringify(detail.eventTime)})`);
  }
  return { kind, region: detail.awsRegion, clusterName, eventTime };
}

/**
 * What to do now, from the cluster's state (`absent`: DescribeCluster found none). A created cluster is
 * reconciled once ACTIVE; a deleted one once DELETING or gone (its roles are then pruned); a cluster
 * still on its way is looked at again after `pollSeconds`, until `maxWaitMs` after the call.
 */
export function nextStep(
  event: ClusterEvent,
  status: ClusterStatus | 'absent',
  now: Date,
  options: WaitOptions = DEFAULT_WAIT,
): ClusterEventStep {
  const settled =
    event.kind === 'created'
      ? status !== 'CREATING' && status !== 'PENDING'
      : status === 'absent' || status === 'DELETING' || status === 'FAILED';
  if (settled) return { action: 'reconcile' };
  const waited = now.getTime() - event.eventTime.getTime();
  if (waited + options.pollSeconds * 1000 > options.maxWaitMs) {
    return {
      action: 'give-up',
      reason: `cluster ${event.clusterName} (${event.region}) is still ${status} ${Math.round(waited / 60_000)} min after ${event.kind === 'created' ? 'CreateCluster' : 'DeleteCluster'}: left to the scheduled run`,
    };
  }
  return { action: 'wait', delaySeconds: Math.min(options.pollSeconds, 900) };
}
