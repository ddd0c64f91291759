import {
  GetAccountAuthorizationDetailsCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  type RoleDetail,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { observe } from '../../../../lib/reconciler/observe/observe';
import { ownedTagList, serviceError, testConfig, testDeps } from '../io-support';

const iam = mockClient(IAMClient);

const TRUST = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: {
        Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/A',
      },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { 'oidc.eks.eu-west-1.amazonaws.com/id/A:sub': 'system:serviceaccount:o:s' },
      },
    },
  ],
};
const POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/alpha/*' }],
};
const BOUNDARY = 'arn:aws:iam::123456789012:policy/boundary';

/** A role as GetAccountAuthorizationDetails returns it: documents URL-encoded. */
function roleDetail(name: string, overrides: Partial<RoleDetail> = {}): RoleDetail {
  const path = overrides.Path ?? '/irsa-reconciler/dev/';
  return {
    RoleName: name,
    Path: path,
    Arn: `arn:aws:iam::123456789012:role${path}${name}`,
    RoleId: `AROA${name.toUpperCase()}`,
    AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(TRUST)),
    RolePolicyList: [
      { PolicyName: 's3-prefix-access', PolicyDocument: encodeURIComponent(JSON.stringify(POLICY)) },
    ],
    AttachedManagedPolicies: [],
    PermissionsBoundary: {
      PermissionsBoundaryArn: BOUNDARY,
      PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
    },
    Tags: ownedTagList(),
    ...overrides,
  };
}

describe('observe', () => {
  beforeEach(() => {
    iam.on(ListOpenIDConnectProvidersCommand).resolves({ OpenIDConnectProviderList: [] });
  });
  afterEach(() => {
    iam.reset();
  });

  it("reads every page of the account's roles in bulk, with the largest pages IAM allows", async () => {
    // Prepare: IAM may return fewer than MaxItems with a marker: every page must be read
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolves({ RoleDetailList: [roleDetail('irsa-a')], IsTruncated: true, Marker: 'm1' })
      .on(GetAccountAuthorizationDetailsCommand, { Marker: 'm1' })
      .resolves({ RoleDetailList: [roleDetail('irsa-b')], IsTruncated: true, Marker: 'm2' })
      .on(GetAccountAuthorizationDetailsCommand, { Marker: 'm2' })
      .resolves({ RoleDetailList: [roleDetail('irsa-c')], IsTruncated: false });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 3);
    expect(iam).toHaveReceivedCommandWith(GetAccountAuthorizationDetailsCommand, {
      Filter: ['Role'],
      MaxItems: 1000,
    });
    expect(iam).toHaveReceivedCommandWith(GetAccountAuthorizationDetailsCommand, {
      Filter: ['Role'],
      MaxItems: 1000,
      Marker: 'm2',
    });
    expect(observed.roles.map((role) => role.roleName)).toEqual(['irsa-a', 'irsa-b', 'irsa-c']);
  });

  it('keeps an owned role whole: decoded trust and inline policies, boundary, attached policies, tags', async () => {
    // Prepare
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [
        roleDetail('irsa-a', {
          AttachedManagedPolicies: [
            { PolicyArn: 'arn:aws:iam::aws:policy/x' },
            { PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
          ],
        }),
      ],
    });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(observed.roles).toEqual([
      {
        roleName: 'irsa-a',
        path: '/irsa-reconciler/dev/',
        arn: 'arn:aws:iam::123456789012:role/irsa-reconciler/dev/irsa-a',
        trustPolicy: TRUST,
        inlinePolicies: { 's3-prefix-access': POLICY },
        permissionsBoundaryArn: BOUNDARY,
        attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/x'],
        tags: Object.fromEntries(ownedTagList().map((tag) => [tag.Key, tag.Value])),
      },
    ]);
  });

  it('keeps of every other role only its name and path, wherever it is, and never reads it one by one', async () => {
    // Prepare
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [
        roleDetail('irsa-no-owner-tag', { Tags: [{ Key: 'team', Value: 'x' }] }),
        roleDetail('irsa-other-stage', { Tags: ownedTagList('prod') }),
        roleDetail('irsa-deeper', { Path: '/irsa-reconciler/dev/x/' }),
        roleDetail('Irsa-Elsewhere', { Path: '/ci/', AssumeRolePolicyDocument: 'not json at all' }),
      ],
    });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(observed.roles).toEqual([]);
    expect([...(observed.takenNames ?? new Map()).entries()]).toEqual([
      ['irsa-no-owner-tag', { roleName: 'irsa-no-owner-tag', path: '/irsa-reconciler/dev/' }],
      ['irsa-other-stage', { roleName: 'irsa-other-stage', path: '/irsa-reconciler/dev/' }],
      ['irsa-deeper', { roleName: 'irsa-deeper', path: '/irsa-reconciler/dev/x/' }],
      ['irsa-elsewhere', { roleName: 'Irsa-Elsewhere', path: '/ci/' }],
    ]);
    const perRoleCalls = iam
      .calls()
      .map((call) => call.args[0].constructor.name)
      .filter(
        (name) =>
          name !== 'GetAccountAuthorizationDetailsCommand' && name !== 'ListOpenIDConnectProvidersCommand',
      );
    expect(perRoleCalls).toEqual([]);
  });

  it('fails instead of returning a partial view when a later page cannot be read', async () => {
    // Prepare
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolves({ RoleDetailList: [roleDetail('irsa-a')], IsTruncated: true, Marker: 'm1' })
      .on(GetAccountAuthorizationDetailsCommand, { Marker: 'm1' })
      .rejects(serviceError('AccessDenied', 403));

    // Act / Assess
    await expect(observe(testDeps(), testConfig())).rejects.toThrow(
      /IAM GetAccountAuthorizationDetails \(roles\) failed: AccessDenied/,
    );
  });

  it("fails naming the role and document when an owned role's document is not JSON", async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolves({ RoleDetailList: [roleDetail('irsa-a', { AssumeRolePolicyDocument: '%7Bbroken' })] });

    await expect(observe(testDeps(), testConfig())).rejects.toThrow(/trust policy of role irsa-a/);
  });

  it('reuses the provider ARNs discovery already read', async () => {
    // Prepare
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [] });

    // Act
    const observed = await observe(testDeps(), testConfig(), { oidcProviderArns: ['arn:p'] });

    // Assess
    expect(observed.oidcProviderArns).toEqual(['arn:p']);
    expect(iam).toHaveReceivedCommandTimes(ListOpenIDConnectProvidersCommand, 0);
  });
});
