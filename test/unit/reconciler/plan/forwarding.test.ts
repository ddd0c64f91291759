import { forwardingRuleName } from '../../../../lib/reconciler/config/naming';
import {
  CLUSTER_CALLS_PATTERN,
  FORWARDING_TARGET_ID,
  planForwarding,
} from '../../../../lib/reconciler/plan/forwarding';
import { plan, teardownPlan } from '../../../../lib/reconciler/plan/plan';
import type { ObservedForwardingRule } from '../../../../lib/reconciler/types';
import { ACCOUNT, completeScan, DEPLOYMENT_REGION, makeConfig, makeDiscovery, STAGE } from '../support';

const BUS = `arn:aws:events:${DEPLOYMENT_REGION}:${ACCOUNT.accountId}:event-bus/irsa-reconciler-${STAGE}-cluster-events`;
const ROLE = `arn:aws:iam::${ACCOUNT.accountId}:role/irsa-reconciler-functions/${STAGE}/event-forwarder`;
const NAME = forwardingRuleName(STAGE);
const OTHER = 'ap-southeast-2';
const US = 'us-east-1';

function config(overrides: Record<string, unknown> = {}) {
  return makeConfig({
    regions: [DEPLOYMENT_REGION, US, OTHER],
    eventForwarding: { busArn: BUS, roleArn: ROLE },
    ...overrides,
  });
}

function ours(region: string, changes: Partial<Extract<ObservedForwardingRule, { status: 'present' }>> = {}) {
  return {
    region,
    status: 'present' as const,
    owned: true,
    eventPattern: JSON.stringify(CLUSTER_CALLS_PATTERN),
    state: 'ENABLED',
    targets: [{ id: FORWARDING_TARGET_ID, arn: BUS, roleArn: ROLE }],
    ...changes,
  };
}

const kinds = (result: ReturnType<typeof planForwarding>) =>
  result.actions.map((action) => {
    if (action.kind === 'put-forwarding-rule') return [action.kind, action.rule.region];
    if (action.kind === 'delete-forwarding-rule' || action.kind === 'forwarding-no-op')
      return [action.kind, action.region];
    return [action.kind, ''];
  });

describe('planForwarding', () => {
  it("wants a rule in every scanned region but the stack's, and creates the missing", () => {
    const result = planForwarding(config(), [
      { region: US, status: 'absent' },
      { region: OTHER, status: 'absent' },
    ]);
    expect(kinds(result)).toEqual([
      ['put-forwarding-rule', US],
      ['put-forwarding-rule', OTHER],
    ]);
    expect(result.actions[0]).toMatchObject({
      create: true,
      rule: { name: NAME, busArn: BUS, roleArn: ROLE },
    });
  });

  it('leaves a rule as desired alone, whatever the spacing and key order of its stored pattern', () => {
    const reordered = JSON.stringify(
      {
        detail: CLUSTER_CALLS_PATTERN.detail,
        source: ['aws.eks'],
        'detail-type': CLUSTER_CALLS_PATTERN['detail-type'],
      },
      null,
      2,
    );
    const result = planForwarding(config(), [ours(US, { eventPattern: reordered }), ours(OTHER)]);
    expect(kinds(result)).toEqual([
      ['forwarding-no-op', US],
      ['forwarding-no-op', OTHER],
    ]);
  });

  it('repairs an owned rule whose pattern drifted, or that has a target someone added (removed)', () => {
    const drifted = [
      ours(US, { eventPattern: '{"source":["aws.ec2"]}' }),
      ours(OTHER, {
        targets: [
          { id: FORWARDING_TARGET_ID, arn: BUS, roleArn: ROLE },
          { id: 'added-by-hand', arn: 'arn:aws:sqs:ap-southeast-2:123456789012:q' },
        ],
      }),
    ];
    const result = planForwarding(config(), drifted);
    expect(result.actions).toEqual([
      expect.objectContaining({ kind: 'put-forwarding-rule', create: false, extraTargetIds: [] }),
      expect.objectContaining({
        kind: 'put-forwarding-rule',
        create: false,
        extraTargetIds: ['added-by-hand'],
      }),
    ]);
  });

  it('repairs an owned rule that was disabled, or whose target names another bus or role', () => {
    const drifted = [
      ours(US, { state: 'DISABLED' }),
      ours(OTHER, { targets: [{ id: FORWARDING_TARGET_ID, arn: BUS, roleArn: `${ROLE}-other` }] }),
    ];
    const elsewhere = [
      ours(US, { targets: [{ id: FORWARDING_TARGET_ID, arn: `${BUS}-other`, roleArn: ROLE }] }),
    ];
    expect(kinds(planForwarding(config(), drifted))).toEqual([
      ['put-forwarding-rule', US],
      ['put-forwarding-rule', OTHER],
    ]);
    expect(kinds(planForwarding(config({ regions: [DEPLOYMENT_REGION, US] }), elsewhere))).toEqual([
      ['put-forwarding-rule', US],
    ]);
  });

  it('never touches a rule of that name it does not own, nor changes anything in a region it could not read', () => {
    const result = planForwarding(config(), [
      { region: US, status: 'present', owned: false, eventPattern: '', state: '', targets: [] },
      { region: OTHER, status: 'unknown', error: 'AccessDenied' },
    ]);
    expect(result.actions).toEqual([]);
    expect(result.skipped.map((item) => [item.region, item.reason])).toEqual([
      [US, expect.stringContaining('does not own')],
      [OTHER, expect.stringContaining('AccessDenied')],
    ]);
  });

  it('deletes an owned rule in a region no longer scanned, or every one when cluster events are off', () => {
    const observed = [ours(US), ours(OTHER), ours('sa-east-1')];
    const narrowed = planForwarding(config({ regions: [DEPLOYMENT_REGION, US] }), observed);
    const off = planForwarding(config({ eventForwarding: null }), observed);
    expect(kinds(narrowed)).toEqual([
      ['forwarding-no-op', US],
      ['delete-forwarding-rule', OTHER],
      ['delete-forwarding-rule', 'sa-east-1'],
    ]);
    expect(kinds(off).map(([kind]) => kind)).toEqual(Array(3).fill('delete-forwarding-rule'));
    expect(off.actions[0]).toMatchObject({ reason: 'cluster events are off for this stage' });
  });

  it('reads and changes nothing when the configuration does not manage forwarding', () => {
    const unmanaged = makeConfig({ regions: [DEPLOYMENT_REGION, US] });
    expect(planForwarding(unmanaged, undefined)).toEqual({ actions: [], skipped: [] });
  });
});

describe('forwarding in the whole plan', () => {
  const discovery = makeDiscovery([completeScan(DEPLOYMENT_REGION, []), completeScan(US, [])]);
  const observedWith = (forwarding: ObservedForwardingRule[]) => ({
    roles: [],
    oidcProviderArns: [],
    forwarding,
  });
  const empty = { roles: [], oidcProviders: [], associations: [], parameters: [], skipped: [] };

  it('holds the forwarding actions, and no delete when prune is off', () => {
    const observed = observedWith([{ region: US, status: 'absent' }, ours(OTHER)]);
    const pruning = plan(empty, observed, discovery, config({ regions: [DEPLOYMENT_REGION, US] }));
    const keeping = plan(
      empty,
      observed,
      discovery,
      config({ regions: [DEPLOYMENT_REGION, US], prune: false }),
    );
    expect(pruning.actions.map((action) => action.kind)).toEqual([
      'put-forwarding-rule',
      'delete-forwarding-rule',
    ]);
    expect(keeping.actions.map((action) => action.kind)).toEqual(['put-forwarding-rule']);
  });

  it('tears down every owned forwarding rule, and only those', () => {
    const torn = teardownPlan(
      observedWith([
        ours(US),
        { region: OTHER, status: 'present', owned: false, eventPattern: '', state: '', targets: [] },
      ]),
      config(),
    );
    expect(torn.actions).toEqual([
      {
        kind: 'delete-forwarding-rule',
        region: US,
        name: NAME,
        reason: 'teardown: the deployment is being removed',
      },
    ]);
  });
});
