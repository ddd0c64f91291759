import { desiredState } from '../../../../lib/reconciler/plan/desired';
import { plan } from '../../../../lib/reconciler/plan/plan';
import type { PublishedParameter, ReconcilerConfig, RegionScan } from '../../../../lib/reconciler/types';
import {
  ACCOUNT,
  completeScan,
  makeCluster,
  makeConfig,
  makeDiscovery,
  observedFrom,
  unknownScan,
} from '../support';

const EU = 'eu-west-1';
const US = 'us-east-1';
const prod = makeCluster('prod', EU);
const east = makeCluster('east', US);
const config = makeConfig({ regions: [EU, US], publishRoleArns: true, maxPruneFraction: 1 });
const regions = [completeScan(EU, [prod]), completeScan(US, [east])];
const desired = desiredState(config, makeDiscovery(regions));
const roles = observedFrom(desired.roles);
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT.accountId}:role/irsa-reconciler/dev/${name}`;
const [prodRole, eastRole] = desired.roles;

function planWith(
  scans: RegionScan[],
  parameters: Map<string, PublishedParameter[] | undefined>,
  configured: ReconcilerConfig = config,
) {
  const discovery = makeDiscovery(scans);
  const wanted = desiredState(configured, discovery);
  return plan(
    wanted,
    { roles, oidcProviderArns: discovery.oidcProviderArns, parameters },
    discovery,
    configured,
  )
    .actions.filter((action) => action.kind === 'put-parameter' || action.kind === 'delete-parameter')
    .map((action) =>
      action.kind === 'put-parameter'
        ? `${action.create ? 'create' : 'update'} ${action.parameter.region} ${action.parameter.name} = ${action.parameter.value}`
        : `delete ${action.region} ${action.name}`,
    );
}

describe('the published role ARNs', () => {
  it('are desired in the cluster region, one per IRSA role, only when asked for', () => {
    expect(desired.parameters.map(({ region, name, value }) => [region, name, value])).toEqual([
      [EU, '/irsa-reconciler/dev/roles/prod/app', roleArn(prodRole?.roleName ?? '')],
      [US, '/irsa-reconciler/dev/roles/east/app', roleArn(eastRole?.roleName ?? '')],
    ]);
    expect(desiredState(makeConfig({ regions: [EU, US] }), makeDiscovery(regions)).parameters).toEqual([]);
  });

  it('are created when missing, rewritten when wrong, left alone when right', () => {
    const actions = planWith(
      regions,
      new Map([
        [EU, []],
        [
          US,
          [{ region: US, name: '/irsa-reconciler/dev/roles/east/app', value: 'arn:aws:iam::1:role/stale' }],
        ],
      ]),
    );
    expect(actions).toEqual([
      `create ${EU} /irsa-reconciler/dev/roles/prod/app = ${roleArn(prodRole?.roleName ?? '')}`,
      `update ${US} /irsa-reconciler/dev/roles/east/app = ${roleArn(eastRole?.roleName ?? '')}`,
    ]);
    expect(
      planWith(
        regions,
        new Map([
          [EU, desired.parameters.slice(0, 1)],
          [US, desired.parameters.slice(1)],
        ]),
      ),
    ).toEqual([]);
  });

  it("are deleted with their role, kept while the role is, and untouched where the region can't be read", () => {
    // Prepare: the cluster east is gone (its role is pruned), prod is opted out (its role is kept)
    const optedOut = makeCluster('prod', EU, { tags: { 'irsa-reconciler/opt-out': 'true' } });
    const published = new Map([
      [EU, desired.parameters.slice(0, 1)],
      [US, desired.parameters.slice(1)],
    ]);

    // Act
    const gone = planWith([completeScan(EU, [optedOut]), completeScan(US, [])], published);
    const unknown = planWith([completeScan(EU, [optedOut]), unknownScan(US, [])], published);
    const unreadable = planWith(
      [completeScan(EU, [optedOut]), completeScan(US, [])],
      new Map([
        [EU, []],
        [US, undefined],
      ]),
    );

    // Assess
    expect(gone).toEqual([`delete ${US} /irsa-reconciler/dev/roles/east/app`]);
    expect(unknown).toEqual([]);
    expect(unreadable).toEqual([]);
  });
});
