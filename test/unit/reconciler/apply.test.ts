import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { apply } from '../../../lib/reconciler/apply';
import type { Action, DesiredRole, Plan, PolicyDocument } from '../../../lib/reconciler/types';
import { ownedTagList, serviceError, testConfig, testDeps } from './io-support';

const iam = mockClient(IAMClient);

const PROVIDER_ARN = 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/A';
const TRUST: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity' },
  ],
};
const POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/alpha/*' }],
};

function desiredRole(roleName: string, inlinePolicies: Record<string, PolicyDocument> = {}): DesiredRole {
  return {
    mode: 'irsa',
    roleName,
    path: '/irsa-reconciler/dev/',
    region: 'eu-west-1',
    clusterName: 'alpha',
    bindingName: 'otel',
    oidcProviderArn: PROVIDER_ARN,
    trustPolicy: TRUST,
    inlinePolicies,
    tags: Object.fromEntries(ownedTagList().map((tag) => [tag.Key, tag.Value])),
    permissionsBoundaryArn: testConfig().permissionsBoundaryArn,
    description: 'IRSA role',
  };
}

function planOf(...actions: Action[]): Plan {
  return { actions, skipped: [], drift: [] };
}

/** An existing role as GetRole/ListRoleTags return it. */
function existingRole(roleName: string, path: string, tags: { Key: string; Value: string }[]): void {
  iam.on(GetRoleCommand, { RoleName: roleName }).resolves({
    Role: {
      RoleName: roleName,
      Path: path,
      Arn: `arn:aws:iam::123456789012:role${path}${roleName}`,
      RoleId: 'AROA1',
      CreateDate: new Date(0),
    },
  });
  iam.on(ListRoleTagsCommand, { RoleName: roleName }).resolves({ Tags: tags });
}

describe('apply', () => {
  beforeEach(() => {
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
  });
  afterEach(() => {
    iam.reset();
  });

  it('creates a role with its trust policy, tags and inline policies, in that order', async () => {
    // Prepare
    const role = desiredRole('irsa-a', { s3: POLICY });
    const calls: string[] = [];
    iam.on(CreateRoleCommand).callsFake(async () => {
      calls.push('create');
      return {};
    });
    iam.on(PutRolePolicyCommand).callsFake(async () => {
      calls.push('put');
      return {};
    });

    // Act
    const results = await apply(testDeps(), planOf({ kind: 'create', role }), testConfig());

    // Assess
    expect(results).toEqual([{ action: { kind: 'create', role }, outcome: { status: 'succeeded' } }]);
    expect(calls).toEqual(['create', 'put']);
    expect(iam).toHaveReceivedCommandWith(CreateRoleCommand, {
      RoleName: 'irsa-a',
      Path: '/irsa-reconciler/dev/',
      AssumeRolePolicyDocument: JSON.stringify(TRUST),
      Tags: expect.arrayContaining([{ Key: 'irsa-reconciler/managed-by', Value: 'irsa-reconciler' }]),
    });
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, {
      RoleName: 'irsa-a',
      PolicyName: 's3',
      PolicyDocument: JSON.stringify(POLICY),
    });
  });

  it('does not put an inline policy twice when the plan also lists it', async () => {
    // Prepare
    const role = desiredRole('irsa-a', { s3: POLICY });
    iam.on(CreateRoleCommand).resolves({});
    iam.on(PutRolePolicyCommand).resolves({});

    // Act
    await apply(
      testDeps(),
      planOf(
        { kind: 'put-policy', roleName: 'irsa-a', policyName: 's3', document: POLICY },
        { kind: 'create', role },
      ),
      testConfig(),
    );

    // Assess
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(iam).toHaveReceivedNthCommandWith(1, CreateRoleCommand, { RoleName: 'irsa-a' });
  });

  it('refuses a create whose name is taken by a role it does not own', async () => {
    // Prepare
    iam.on(CreateRoleCommand).rejects(serviceError('EntityAlreadyExistsException', 409));
    existingRole('irsa-a', '/', [{ Key: 'team', Value: 'someone-else' }]);

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'create', role: desiredRole('irsa-a', { s3: POLICY }) }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({
      status: 'failed',
      error: expect.stringMatching(/^NotOwnedError: cannot create role irsa-a: it exists at path \//),
      retryable: false,
    });
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 0);
  });

  it('carries on with the inline policies when the role already exists and is its own (a retried create)', async () => {
    // Prepare
    iam.on(CreateRoleCommand).rejects(serviceError('EntityAlreadyExistsException', 409));
    existingRole('irsa-a', '/irsa-reconciler/dev/', ownedTagList());
    iam.on(PutRolePolicyCommand).resolves({});

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'create', role: desiredRole('irsa-a', { s3: POLICY }) }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({ status: 'succeeded' });
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { RoleName: 'irsa-a', PolicyName: 's3' });
  });

  it('creates the OIDC provider without a thumbprint before the roles that trust it', async () => {
    // Prepare
    const calls: string[] = [];
    iam.on(CreateOpenIDConnectProviderCommand).callsFake(async () => {
      calls.push('provider');
      return { OpenIDConnectProviderArn: PROVIDER_ARN };
    });
    iam.on(CreateRoleCommand).callsFake(async () => {
      calls.push('role');
      return {};
    });
    const provider = {
      region: 'eu-west-1',
      clusterName: 'alpha',
      issuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/A',
      arn: PROVIDER_ARN,
    };

    // Act
    const results = await apply(
      testDeps(),
      planOf({ kind: 'create', role: desiredRole('irsa-a') }, { kind: 'create-oidc-provider', provider }),
      testConfig(),
    );

    // Assess
    expect(calls).toEqual(['provider', 'role']);
    expect(results.map((r) => r.outcome.status)).toEqual(['succeeded', 'succeeded']);
    expect(iam).toHaveReceivedCommandWith(CreateOpenIDConnectProviderCommand, {
      Url: 'https://oidc.eks.eu-west-1.amazonaws.com/id/A',
      ClientIDList: ['sts.amazonaws.com'],
    });
    const input = iam.commandCalls(CreateOpenIDConnectProviderCommand)[0]?.args[0].input;
    expect(input?.ThumbprintList).toBeUndefined();
  });

  it('retries a trust policy IAM refuses right after creating its OIDC provider', async () => {
    // Prepare
    iam.on(CreateOpenIDConnectProviderCommand).resolves({ OpenIDConnectProviderArn: PROVIDER_ARN });
    iam.on(CreateRoleCommand).rejectsOnce(serviceError('MalformedPolicyDocumentException', 400)).resolves({});
    const provider = { region: 'eu-west-1', clusterName: 'alpha', issuerUrl: 'https://x', arn: PROVIDER_ARN };

    // Act
    const results = await apply(
      testDeps(),
      planOf({ kind: 'create-oidc-provider', provider }, { kind: 'create', role: desiredRole('irsa-a') }),
      testConfig(),
      { providerPropagationDelaysMs: [0] },
    );

    // Assess
    expect(results.map((r) => r.outcome.status)).toEqual(['succeeded', 'succeeded']);
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 2);
  });

  it('does not retry a malformed trust policy whose provider existed before the run', async () => {
    // Prepare
    iam.on(CreateRoleCommand).rejects(serviceError('MalformedPolicyDocumentException', 400));

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'create', role: desiredRole('irsa-a') }),
      testConfig(),
      {
        providerPropagationDelaysMs: [0, 0],
      },
    );

    // Assess
    expect(result?.outcome).toMatchObject({ status: 'failed', retryable: false });
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
  });

  it('does not create a role whose OIDC provider failed, and says why', async () => {
    // Prepare
    iam.on(CreateOpenIDConnectProviderCommand).rejects(serviceError('LimitExceeded', 409));
    const provider = { region: 'eu-west-1', clusterName: 'alpha', issuerUrl: 'https://x', arn: PROVIDER_ARN };

    // Act
    const results = await apply(
      testDeps(),
      planOf({ kind: 'create-oidc-provider', provider }, { kind: 'create', role: desiredRole('irsa-a') }),
      testConfig(),
    );

    // Assess
    expect(results[1]?.outcome).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/OIDC provider/),
    });
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 0);
  });

  it('keeps applying other roles when one role fails, and skips the rest of the failed role', async () => {
    // Prepare
    iam
      .on(UpdateAssumeRolePolicyCommand, { RoleName: 'irsa-bad' })
      .rejects(serviceError('MalformedPolicyDocument', 400));
    iam.on(UpdateAssumeRolePolicyCommand, { RoleName: 'irsa-good' }).resolves({});
    iam.on(PutRolePolicyCommand).resolves({});

    // Act
    const results = await apply(
      testDeps(),
      planOf(
        { kind: 'update-trust', roleName: 'irsa-bad', trustPolicy: TRUST },
        { kind: 'put-policy', roleName: 'irsa-bad', policyName: 's3', document: POLICY },
        { kind: 'update-trust', roleName: 'irsa-good', trustPolicy: TRUST },
        { kind: 'put-policy', roleName: 'irsa-good', policyName: 's3', document: POLICY },
      ),
      testConfig({ concurrency: 1 }),
    );

    // Assess
    expect(results.map((r) => r.outcome)).toEqual([
      { status: 'failed', error: expect.stringContaining('MalformedPolicyDocument'), retryable: false },
      {
        status: 'failed',
        error: expect.stringMatching(/^not attempted: update-trust of role irsa-bad failed/),
        retryable: false,
      },
      { status: 'succeeded' },
      { status: 'succeeded' },
    ]);
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { RoleName: 'irsa-good' });
  });

  it('marks throttling that outlived the SDK retries as retryable', async () => {
    // Prepare
    iam.on(TagRoleCommand).rejects(serviceError('Throttling', 400));

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'tag', roleName: 'irsa-a', tags: { x: 'y' } }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toMatchObject({ status: 'failed', retryable: true });
  });

  it('deletes an owned role after re-reading it: inline policies first, then the role', async () => {
    // Prepare
    existingRole('irsa-a', '/irsa-reconciler/dev/', ownedTagList());
    iam.on(ListRolePoliciesCommand, { RoleName: 'irsa-a' }).resolves({ PolicyNames: ['s3', 'secrets'] });
    const calls: string[] = [];
    iam.on(DeleteRolePolicyCommand).callsFake(async (input: { PolicyName: string }) => {
      calls.push(`policy ${input.PolicyName}`);
      return {};
    });
    iam.on(DeleteRoleCommand).callsFake(async () => {
      calls.push('role');
      return {};
    });

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'delete', roleName: 'irsa-a', reason: 'cluster gone' }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({ status: 'succeeded' });
    expect(calls).toEqual(['policy s3', 'policy secrets', 'role']);
    expect(iam).toHaveReceivedCommandWith(GetRoleCommand, { RoleName: 'irsa-a' });
  });

  it.each([
    ['without the owner tag', '/irsa-reconciler/dev/', [{ Key: 'team', Value: 'x' }]],
    ['of another stage', '/irsa-reconciler/dev/', ownedTagList('prod')],
    ['under another path', '/other/', ownedTagList()],
  ])('refuses to delete a role %s, touching nothing', async (_case, path, tags) => {
    // Prepare
    existingRole('irsa-a', path, tags);

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'delete', roleName: 'irsa-a', reason: 'test' }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({
      status: 'failed',
      error: expect.stringMatching(/^NotOwnedError: cannot delete role irsa-a/),
      retryable: false,
    });
    expect(iam).toHaveReceivedCommandTimes(DeleteRolePolicyCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(DeleteRoleCommand, 0);
  });

  it('refuses to delete an owned role someone attached a managed policy to, before changing anything', async () => {
    // Prepare
    existingRole('irsa-a', '/irsa-reconciler/dev/', ownedTagList());
    iam.on(ListRolePoliciesCommand, { RoleName: 'irsa-a' }).resolves({ PolicyNames: ['s3'] });
    iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'irsa-a' }).resolves({
      AttachedPolicies: [
        { PolicyName: 'ReadOnlyAccess', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      ],
    });

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'delete', roleName: 'irsa-a', reason: 'test' }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('arn:aws:iam::aws:policy/ReadOnlyAccess'),
      retryable: false,
    });
    expect(iam).toHaveReceivedCommandTimes(DeleteRolePolicyCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(DeleteRoleCommand, 0);
  });

  it('counts a role that is already gone as deleted', async () => {
    // Prepare
    iam.on(GetRoleCommand).rejects(serviceError('NoSuchEntityException', 404));

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'delete', roleName: 'irsa-a', reason: 'test' }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({ status: 'succeeded' });
    expect(iam).toHaveReceivedCommandTimes(DeleteRoleCommand, 0);
  });

  it('counts a role that vanishes during the delete as deleted', async () => {
    // Prepare
    existingRole('irsa-a', '/irsa-reconciler/dev/', ownedTagList());
    iam.on(ListRolePoliciesCommand, { RoleName: 'irsa-a' }).resolves({ PolicyNames: ['s3'] });
    iam.on(DeleteRolePolicyCommand).rejects(serviceError('NoSuchEntityException', 404));
    iam.on(DeleteRoleCommand).rejects(serviceError('NoSuchEntityException', 404));

    // Act
    const [result] = await apply(
      testDeps(),
      planOf({ kind: 'delete', roleName: 'irsa-a', reason: 'test' }),
      testConfig(),
    );

    // Assess
    expect(result?.outcome).toEqual({ status: 'succeeded' });
  });

  it('makes no call for a no-op', async () => {
    // Act
    const results = await apply(testDeps(), planOf({ kind: 'no-op', roleName: 'irsa-a' }), testConfig());

    // Assess
    expect(results[0]?.outcome).toEqual({ status: 'succeeded' });
    expect(iam.calls()).toHaveLength(0);
  });
});
