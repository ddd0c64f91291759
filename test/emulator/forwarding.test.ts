/**
 * The rules that forward other regions' EKS cluster calls to the stack's bus (issue 13), against moto's
 * EventBridge and EC2 (DescribeRegions): made in every scanned region but the stack's, repaired, left
 * alone when someone else owns the name, removed from regions no longer scanned and on teardown.
 */
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { silentLogger } from '../../lib/observability/logger';
import { forwardingRuleName } from '../../lib/reconciler/config/naming';
import { parseReconcilerConfig } from '../../lib/reconciler/config/schema';
import { reconcile, teardown } from '../../lib/reconciler/index';
import type { ReconcileReport } from '../../lib/reconciler/types';
import { createBoundaryPolicy, emulatorClients, useEmulator } from '../support/emulator-fixtures';
import { EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS } from '../support/moto-server';

const BOUNDARY = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:policy/irsa-boundary`;
const EU = 'eu-west-1';
const US = 'us-east-1';
const AP = 'ap-southeast-2';
const SA = 'sa-east-1';
const STAGE = 'qa';
const NAME = forwardingRuleName(STAGE);
const BUS = `arn:aws:events:${EU}:${EMULATOR_ACCOUNT_ID}:event-bus/irsa-reconciler-${STAGE}-cluster-events`;
const ROLE = `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:role/irsa-reconciler-functions/${STAGE}/irsa-reconciler-${STAGE}-event-forwarder`;

function config(regions: string[], eventForwarding: unknown = { busArn: BUS, roleArn: ROLE }) {
  return parseReconcilerConfig(
    {
      regions,
      clusters: { include: ['*'] },
      permissionsBoundaryArn: BOUNDARY,
      bindings: [{ name: 'otel', namespace: 'observability', serviceAccount: 'otel', policies: [] }],
      eventForwarding,
    },
    { stage: STAGE, deploymentRegion: EU },
  );
}

function eventWrites(report: ReconcileReport): Record<string, number> {
  return Object.fromEntries(
    Object.entries(report.apiCalls).filter(([call]) => /^EventBridge:(Put|Delete|Remove|Tag)/.test(call)),
  );
}

describe('forwarding rules for cluster events, against moto', () => {
  const emulator = useEmulator((admin) => createBoundaryPolicy(admin, BOUNDARY));
  const deps = () => ({ clients: emulatorClients(emulator.moto.endpoint), logger: silentLogger });
  const events = (region: string) =>
    new EventBridgeClient({ region, endpoint: emulator.moto.endpoint, credentials: EMULATOR_CREDENTIALS });

  async function ruleIn(region: string) {
    const client = events(region);
    try {
      const rule = await client.send(new DescribeRuleCommand({ Name: NAME }));
      const { Tags } = await client.send(new ListTagsForResourceCommand({ ResourceARN: rule.Arn }));
      const { Targets } = await client.send(new ListTargetsByRuleCommand({ Rule: NAME }));
      return {
        pattern: JSON.parse(rule.EventPattern ?? '{}'),
        state: rule.State,
        tags: Object.fromEntries((Tags ?? []).map((tag) => [tag.Key, tag.Value])),
        targets: (Targets ?? []).map((target) => [target.Id, target.Arn, target.RoleArn]),
      };
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw error;
    } finally {
      client.destroy();
    }
  }

  it("makes the rule in every scanned region but the stack's, then writes nothing", async () => {
    // Act
    const first = await reconcile(deps(), config([EU, US, AP]));
    const again = await reconcile(deps(), config([EU, US, AP]));

    // Assess
    expect(first.failed).toBe(false);
    expect(await ruleIn(EU)).toBeUndefined();
    for (const region of [US, AP]) {
      expect(await ruleIn(region)).toEqual({
        pattern: {
          source: ['aws.eks'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: { eventSource: ['eks.amazonaws.com'], eventName: ['CreateCluster', 'DeleteCluster'] },
        },
        state: 'ENABLED',
        tags: { 'irsa-reconciler/managed-by': 'irsa-reconciler', 'irsa-reconciler/stage': STAGE },
        targets: [['irsa-reconciler-cluster-events-bus', BUS, ROLE]],
      });
    }
    expect(eventWrites(again)).toEqual({});
    expect(again.counts.unchanged).toBeGreaterThanOrEqual(2);
  });

  it('repairs a rule changed by hand and removes a target someone added', async () => {
    // Prepare
    await reconcile(deps(), config([EU, US]));
    const us = events(US);
    await us.send(
      new PutRuleCommand({ Name: NAME, EventPattern: '{"source":["aws.ec2"]}', State: 'DISABLED' }),
    );
    await us.send(
      new PutTargetsCommand({
        Rule: NAME,
        Targets: [{ Id: 'added-by-hand', Arn: `arn:aws:sqs:${US}:${EMULATOR_ACCOUNT_ID}:elsewhere` }],
      }),
    );
    us.destroy();

    // Act
    const report = await reconcile(deps(), config([EU, US]));

    // Assess
    expect(report.failed).toBe(false);
    expect(await ruleIn(US)).toMatchObject({
      pattern: { source: ['aws.eks'] },
      state: 'ENABLED',
      targets: [['irsa-reconciler-cluster-events-bus', BUS, ROLE]],
    });
  });

  it('leaves a rule of that name it does not own; removes its own from a region no longer scanned, and all of them when cluster events are off', async () => {
    // Prepare: ours in US and SA; someone else's of the same name in AP
    await reconcile(deps(), config([EU, US, SA]));
    const ap = events(AP);
    await ap.send(new PutRuleCommand({ Name: NAME, EventPattern: '{"source":["aws.s3"]}' }));
    ap.destroy();

    // Act: SA dropped from the configuration (found through DescribeRegions), then AP scanned
    const narrowed = await reconcile(deps(), config([EU, US, AP]));
    const off = await reconcile(deps(), config([EU, US, AP], null));

    // Assess
    expect(narrowed.skipped).toContainEqual(
      expect.objectContaining({ region: AP, reason: expect.stringContaining('does not own') }),
    );
    expect(narrowed.results.filter((result) => result.action.kind === 'delete-forwarding-rule')).toEqual([
      expect.objectContaining({ outcome: { status: 'succeeded' } }),
    ]);
    expect(await ruleIn(SA)).toBeUndefined();
    expect(off.counts.deleted).toBe(1);
    expect(await ruleIn(US)).toBeUndefined();
    expect((await ruleIn(AP))?.pattern).toEqual({ source: ['aws.s3'] });
  });

  it('removes every owned forwarding rule on teardown', async () => {
    // Prepare
    await reconcile(deps(), config([EU, US, AP]));

    // Act
    const report = await teardown(deps(), config([EU, US, AP]));

    // Assess
    expect(report.failed).toBe(false);
    expect([await ruleIn(US), await ruleIn(AP)]).toEqual([undefined, undefined]);
  });
});
