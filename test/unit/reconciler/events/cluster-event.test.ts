import { InvalidEventError } from '../../../../lib/errors';
import {
  type ClusterEvent,
  nextStep,
  parseClusterEvent,
} from '../../../../lib/reconciler/events/cluster-event';

/** An EventBridge "AWS API Call via CloudTrail" event as CloudTrail delivers an EKS call. */
function cloudTrailEvent(eventName: string, detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '6f2f3a1b-0000-4c3d-9e8f-000000000001',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.eks',
    account: '123456789012',
    time: '2026-12-02T08:00:05Z',
    region: 'eu-west-1',
    detail: {
      eventVersion: '1.08',
      eventTime: '2026-12-02T08:00:00Z',
      eventSource: 'eks.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      requestParameters: { name: 'prod-eu-3' },
      ...detail,
    },
  };
}

describe('parseClusterEvent', () => {
  it.each([
    ['CreateCluster', 'created'],
    ['DeleteCluster', 'deleted'],
  ])('reads %s', (eventName, kind) => {
    expect(parseClusterEvent(cloudTrailEvent(eventName))).toEqual({
      kind,
      region: 'eu-west-1',
      clusterName: 'prod-eu-3',
      eventTime: new Date('2026-12-02T08:00:00Z'),
    });
  });

  it.each([
    ['another service', { ...cloudTrailEvent('CreateCluster'), source: 'aws.ec2' }, /from aws.eks/],
    ['another call', cloudTrailEvent('UpdateClusterConfig'), /CreateCluster or DeleteCluster/],
    [
      'a failed call',
      cloudTrailEvent('CreateCluster', { errorCode: 'ResourceInUseException' }),
      /failed \(ResourceInUseException\)/,
    ],
    [
      'a hostile name',
      cloudTrailEvent('DeleteCluster', { requestParameters: { name: '../x' } }),
      /not an EKS cluster name/,
    ],
    ['no region', cloudTrailEvent('DeleteCluster', { awsRegion: 7 }), /detail.awsRegion/],
    ['no time', cloudTrailEvent('DeleteCluster', { eventTime: 'soon' }), /detail.eventTime/],
  ])('refuses %s, naming why', (_, event, message) => {
    expect(() => parseClusterEvent(event)).toThrow(InvalidEventError);
    expect(() => parseClusterEvent(event)).toThrow(message);
  });
});

describe('nextStep', () => {
  const created: ClusterEvent = {
    kind: 'created',
    region: 'eu-west-1',
    clusterName: 'prod-eu-3',
    eventTime: new Date('2026-12-02T08:00:00Z'),
  };
  const deleted: ClusterEvent = { ...created, kind: 'deleted' };
  const at = (minutes: number) => new Date(created.eventTime.getTime() + minutes * 60_000);
  const options = { maxWaitMs: 20 * 60_000, pollSeconds: 60 };

  it.each([
    [created, 'ACTIVE', 12, { action: 'reconcile' }],
    [created, 'CREATING', 1, { action: 'wait', delaySeconds: 60 }],
    [created, 'CREATING', 19.5, { action: 'give-up' }],
    [created, 'absent', 1, { action: 'reconcile' }],
    [deleted, 'DELETING', 0, { action: 'reconcile' }],
    [deleted, 'absent', 30, { action: 'reconcile' }],
    [deleted, 'ACTIVE', 1, { action: 'wait', delaySeconds: 60 }],
    [deleted, 'ACTIVE', 25, { action: 'give-up' }],
  ] as const)('%o with the cluster %s after %d min: %o', (event, status, minutes, step) => {
    expect(nextStep(event, status, at(minutes), options)).toMatchObject(step);
  });

  it('says why it gives up', () => {
    expect(nextStep(created, 'CREATING', at(25), options)).toEqual({
      action: 'give-up',
      reason:
        'cluster prod-eu-3 (eu-west-1) is still CREATING 25 min after CreateCluster: left to the scheduled run',
    });
  });
});
