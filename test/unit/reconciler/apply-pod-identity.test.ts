import {
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListPodIdentityAssociationsCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { apply } from '../../../lib/reconciler/apply';
import { podIdentityOwnershipTags } from '../../../lib/reconciler/ownership';
import type {
  Action,
  AssociationRef,
  DesiredAssociation,
  DesiredPodIdentityRole,
  Plan,
} from '../../../lib/reconciler/types';
import { ownedTagList, serviceError, testConfig, testDeps } from './io-support';

const eks = mockClient(EKSClient);
const iam = mockClient(IAMClient);

const ROLE_ARN = 'arn:aws:iam::123456789012:role/irsa-reconciler/dev/irsa-pi-otel-0123456789';
const OWNED_TAGS = podIdentityOwnershipTags('dev', 'otel');
const REF: AssociationRef = {
  region: 'eu-west-1',
  clusterName: 'alpha',
  namespace: 'observability',
  serviceAccount: 'otel-collector',
  bindingName: 'otel',
};
const WANT: DesiredAssociation = {
  ...REF,
  roleName: 'irsa-pi-otel-0123456789',
  roleArn: ROLE_ARN,
  tags: OWNED_TAGS,
};
const ROLE: DesiredPodIdentityRole = {
  mode: 'pod-identity',
  roleName: WANT.roleName,
  arn: ROLE_ARN,
  path: '/irsa-reconciler/dev/',
  bindingName: 'otel',
  trustPolicy: { Version: '2012-10-17', Statement: [] },
  inlinePolicies: {},
  tags: OWNED_TAGS,
  permissionsBoundaryArn: testConfig().permissionsBoundaryArn,
  description: 'Pod Identity role',
};

function planOf(...actions: Action[]): Plan {
  return { actions, skipped: [], drift: [] };
}

function run(plan: Plan, sleeps: number[] = []) {
  return apply(testDeps(), plan, testConfig(), {
    roleVisibilityDelaysMs: [10, 20],
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

function described(tags: Record<string, string>, roleArn = ROLE_ARN) {
  return { association: { ...REF, associationId: 'a-1', roleArn, tags } };
}

beforeEach(() => {
  eks.reset();
  iam.reset();
});

describe('applying Pod Identity actions', () => {
  it('creates the role first, then the association, waiting while IAM has not propagated the new role', async () => {
    // Prepare
    iam.on(CreateRoleCommand).resolves({});
    eks
      .on(CreatePodIdentityAssociationCommand)
      .rejectsOnce(serviceError('InvalidParameterException'))
      .resolves({ association: { associationId: 'a-1' } });
    const sleeps: number[] = [];

    // Act
    const results = await run(
      planOf({ kind: 'create', role: ROLE }, { kind: 'create-association', association: WANT }),
      sleeps,
    );

    // Assess
    expect(results.map((result) => result.outcome.status)).toEqual(['succeeded', 'succeeded']);
    expect(sleeps).toEqual([10]);
    expect(eks).toHaveReceivedCommandWith(CreatePodIdentityAssociationCommand, {
      clusterName: 'alpha',
      namespace: 'observability',
      serviceAccount: 'otel-collector',
      roleArn: ROLE_ARN,
      tags: OWNED_TAGS,
    });
  });

  it('does not wait for a role that existed before the run: the refusal is reported', async () => {
    eks.on(CreatePodIdentityAssociationCommand).rejects(serviceError('InvalidParameterException'));
    const sleeps: number[] = [];
    const [result] = await run(planOf({ kind: 'create-association', association: WANT }), sleeps);
    expect(result?.outcome).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('InvalidParameterException'),
    });
    expect(sleeps).toEqual([]);
  });

  it('does not attempt the association when its role failed', async () => {
    iam.on(CreateRoleCommand).rejects(serviceError('AccessDenied', 403));
    const results = await run(
      planOf({ kind: 'create', role: ROLE }, { kind: 'create-association', association: WANT }),
    );
    expect(results[1]?.outcome).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('not attempted'),
    });
    expect(eks).not.toHaveReceivedCommand(CreatePodIdentityAssociationCommand);
  });

  it.each([
    ['ours, pointing at the role: done', OWNED_TAGS, 'succeeded', false],
    ["someone else's: refused, never changed", {}, 'failed', false],
  ])('on ResourceInUseException re-reads the association: %s', async (_, tags, status, updated) => {
    eks.on(CreatePodIdentityAssociationCommand).rejects(serviceError('ResourceInUseException', 409));
    eks.on(ListPodIdentityAssociationsCommand).resolves({ associations: [{ associationId: 'a-1' }] });
    eks.on(DescribePodIdentityAssociationCommand).resolves(described(tags));
    const [result] = await run(planOf({ kind: 'create-association', association: WANT }));
    expect(result?.outcome.status).toBe(status);
    expect(eks.commandCalls(UpdatePodIdentityAssociationCommand).length > 0).toBe(updated);
  });

  it('updates only an association it re-read as its own', async () => {
    eks.on(DescribePodIdentityAssociationCommand).resolves(described(OWNED_TAGS, 'arn:aws:iam::1:role/old'));
    eks.on(UpdatePodIdentityAssociationCommand).resolves({});
    const [result] = await run(
      planOf({
        kind: 'update-association',
        association: REF,
        associationId: 'a-1',
        roleArn: ROLE_ARN,
        roleName: WANT.roleName,
      }),
    );
    expect(result?.outcome.status).toBe('succeeded');
    expect(eks).toHaveReceivedCommandWith(UpdatePodIdentityAssociationCommand, {
      clusterName: 'alpha',
      associationId: 'a-1',
      roleArn: ROLE_ARN,
    });
  });

  it.each([
    [
      'gone before the delete (NotFound on the re-read)',
      () =>
        eks.on(DescribePodIdentityAssociationCommand).rejects(serviceError('ResourceNotFoundException', 404)),
      'succeeded',
      0,
    ],
    [
      'gone during the delete (NotFound on delete)',
      () => {
        eks.on(DescribePodIdentityAssociationCommand).resolves(described(OWNED_TAGS));
        eks.on(DeletePodIdentityAssociationCommand).rejects(serviceError('ResourceNotFoundException', 404));
      },
      'succeeded',
      1,
    ],
    [
      "someone else's now",
      () => eks.on(DescribePodIdentityAssociationCommand).resolves(described({ team: 'x' })),
      'failed',
      0,
    ],
    [
      'ours',
      () => {
        eks.on(DescribePodIdentityAssociationCommand).resolves(described(OWNED_TAGS));
        eks.on(DeletePodIdentityAssociationCommand).resolves({});
      },
      'succeeded',
      1,
    ],
  ])('deletes after re-reading: %s', async (_, arrange, status, deletes) => {
    arrange();
    const [result] = await run(
      planOf({
        kind: 'delete-association',
        association: REF,
        associationId: 'a-1',
        reason: 'binding removed',
      }),
    );
    expect(result?.outcome.status).toBe(status);
    expect(eks.commandCalls(DeletePodIdentityAssociationCommand)).toHaveLength(deletes);
  });

  it('deletes the associations before the role when both go (teardown)', async () => {
    // Prepare
    const order: string[] = [];
    eks.on(DescribePodIdentityAssociationCommand).resolves(described(OWNED_TAGS));
    eks.on(DeletePodIdentityAssociationCommand).callsFake(() => {
      order.push('association');
      return {};
    });
    iam.on(GetRoleCommand).resolves({
      Role: {
        Path: '/irsa-reconciler/dev/',
        PermissionsBoundary: { PermissionsBoundaryArn: testConfig().permissionsBoundaryArn },
      } as never,
    });
    iam.on(ListRoleTagsCommand).resolves({ Tags: ownedTagList() });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(DeleteRoleCommand).callsFake(() => {
      order.push('role');
      return {};
    });

    // Act: the role's delete comes first in the plan
    const results = await run(
      planOf(
        { kind: 'delete', roleName: WANT.roleName, reason: 'teardown' },
        { kind: 'delete-association', association: REF, associationId: 'a-1', reason: 'teardown' },
      ),
    );

    // Assess
    expect(results.map((result) => result.outcome.status)).toEqual(['succeeded', 'succeeded']);
    expect(order).toEqual(['association', 'role']);
  });
});
