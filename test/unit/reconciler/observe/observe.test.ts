import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
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

function role(name: string, path = '/irsa-reconciler/dev/', encode = true) {
  const document = JSON.stringify(TRUST);
  return {
    RoleName: name,
    Path: path,
    Arn: `arn:aws:iam::123456789012:role${path}${name}`,
    RoleId: `AROA${name.toUpperCase()}`,
    CreateDate: new Date(0),
    AssumeRolePolicyDocument: encode ? encodeURIComponent(document) : document,
  };
}

describe('observe', () => {
  beforeEach(() => {
    iam.on(ListOpenIDConnectProvidersCommand).resolves({ OpenIDConnectProviderList: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(GetRoleCommand).callsFake(({ RoleName }: { RoleName: string }) => ({ Role: role(RoleName) }));
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
  });
  afterEach(() => {
    iam.reset();
  });

  it('lists every page of roles under the owned path and URL-decodes trust and inline policies', async () => {
    // Prepare
    iam
      .on(ListRolesCommand)
      .resolves({ Roles: [role('irsa-a')], IsTruncated: true, Marker: 'm1' })
      .on(ListRolesCommand, { Marker: 'm1' })
      .resolves({ Roles: [role('irsa-b', undefined, false)], IsTruncated: false });
    iam.on(ListRoleTagsCommand).resolves({ Tags: ownedTagList() });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['s3-prefix-access'] });
    iam.on(GetRolePolicyCommand).resolves({
      RoleName: 'irsa-a',
      PolicyName: 's3-prefix-access',
      PolicyDocument: encodeURIComponent(JSON.stringify(POLICY)),
    });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    // The largest page IAM allows, so 1,000 roles cost one sequential call, not ten.
    expect(iam).toHaveReceivedCommandWith(ListRolesCommand, {
      PathPrefix: '/irsa-reconciler/dev/',
      MaxItems: 1000,
    });
    expect(iam).toHaveReceivedCommandWith(ListRolesCommand, {
      PathPrefix: '/irsa-reconciler/dev/',
      Marker: 'm1',
      MaxItems: 1000,
    });
    expect(observed.roles.map((r) => r.roleName)).toEqual(['irsa-a', 'irsa-b']);
    for (const observedRole of observed.roles) {
      expect(observedRole.trustPolicy).toEqual(TRUST);
      expect(observedRole.inlinePolicies).toEqual({ 's3-prefix-access': POLICY });
    }
  });

  it('reads every page of tags', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({ Roles: [role('irsa-a')] });
    const [first, ...rest] = ownedTagList();
    iam
      .on(ListRoleTagsCommand)
      .resolves({ Tags: first ? [first] : [], IsTruncated: true, Marker: 't2' })
      .on(ListRoleTagsCommand, { RoleName: 'irsa-a', Marker: 't2' })
      .resolves({ Tags: rest, IsTruncated: false });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(Object.keys(observed.roles[0]?.tags ?? {})).toHaveLength(ownedTagList().length);
    expect(iam).toHaveReceivedCommandTimes(GetRolePolicyCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(ListRolePoliciesCommand, 1);
  });

  it('never reads the inline policies of a role it does not own', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({
      Roles: [
        role('irsa-no-owner-tag'),
        role('irsa-other-stage'),
        role('irsa-deeper', '/irsa-reconciler/dev/x/'),
      ],
    });
    iam
      .on(ListRoleTagsCommand, { RoleName: 'irsa-no-owner-tag' })
      .resolves({ Tags: [{ Key: 'team', Value: 'x' }] })
      .on(ListRoleTagsCommand, { RoleName: 'irsa-other-stage' })
      .resolves({ Tags: ownedTagList('prod') })
      .on(ListRoleTagsCommand, { RoleName: 'irsa-deeper' })
      .resolves({ Tags: ownedTagList() });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(observed.roles).toHaveLength(3);
    expect(iam).toHaveReceivedCommandTimes(ListRolePoliciesCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(GetRolePolicyCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(GetRoleCommand, 0);
  });

  it('drops a role that was deleted between ListRoles and ListRoleTags', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({ Roles: [role('irsa-a'), role('irsa-gone')] });
    iam.on(ListRoleTagsCommand).resolves({ Tags: ownedTagList() });
    iam
      .on(ListRoleTagsCommand, { RoleName: 'irsa-gone' })
      .rejects(serviceError('NoSuchEntityException', 404));

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(observed.roles.map((r) => r.roleName)).toEqual(['irsa-a']);
  });

  it('fails instead of returning a partial view when a read fails', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({ Roles: [role('irsa-a')] });
    iam.on(ListRoleTagsCommand).rejects(serviceError('AccessDenied', 403));

    // Act / Assess
    await expect(observe(testDeps(), testConfig())).rejects.toThrow(
      /IAM ListRoleTags irsa-a failed: AccessDenied/,
    );
  });

  it('reads the permissions boundary and the attached managed policies of every owned role', async () => {
    // Prepare
    const boundary = 'arn:aws:iam::123456789012:policy/boundary';
    iam.on(ListRolesCommand).resolves({ Roles: [role('irsa-a'), role('irsa-b')] });
    iam.on(ListRoleTagsCommand).resolves({ Tags: ownedTagList() });
    iam.on(GetRoleCommand, { RoleName: 'irsa-a' }).resolves({
      Role: {
        ...role('irsa-a'),
        PermissionsBoundary: {
          PermissionsBoundaryArn: boundary,
          PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
        },
      },
    });
    iam
      .on(ListAttachedRolePoliciesCommand, { RoleName: 'irsa-b' })
      .resolves({
        AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/x' }],
        IsTruncated: true,
        Marker: 'p2',
      })
      .on(ListAttachedRolePoliciesCommand, { RoleName: 'irsa-b', Marker: 'p2' })
      .resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }] });

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    const [a, b] = observed.roles;
    expect(a?.permissionsBoundaryArn).toBe(boundary);
    expect(a?.attachedPolicyArns).toEqual([]);
    expect(b?.permissionsBoundaryArn).toBeUndefined();
    expect(b?.attachedPolicyArns).toEqual([
      'arn:aws:iam::aws:policy/AdministratorAccess',
      'arn:aws:iam::aws:policy/x',
    ]);
    expect(iam).toHaveReceivedCommandTimes(GetRoleCommand, 2);
  });

  it('drops an owned role deleted between its tags and its attached policies', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({ Roles: [role('irsa-a')] });
    iam.on(ListRoleTagsCommand).resolves({ Tags: ownedTagList() });
    iam.on(ListAttachedRolePoliciesCommand).rejects(serviceError('NoSuchEntityException', 404));

    // Act
    const observed = await observe(testDeps(), testConfig());

    // Assess
    expect(observed.roles).toEqual([]);
  });

  it('reuses the provider ARNs discovery already read', async () => {
    // Prepare
    iam.on(ListRolesCommand).resolves({ Roles: [] });

    // Act
    const observed = await observe(testDeps(), testConfig(), { oidcProviderArns: ['arn:p'] });

    // Assess
    expect(observed.oidcProviderArns).toEqual(['arn:p']);
    expect(iam).toHaveReceivedCommandTimes(ListOpenIDConnectProvidersCommand, 0);
  });
});
