/**
 * The Pod Identity fake (test/support/pod-identity-front.ts) driven by the AWS SDK's own EKS client,
 * as the reconciler drives EKS: shapes, validation, error codes, pagination, tags, and moto's clusters
 * and IAM roles behind it.
 */
import {
  CreateAddonCommand,
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribeAddonCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListAddonsCommand,
  ListPodIdentityAssociationsCommand,
  ListTagsForResourceCommand,
  paginateListPodIdentityAssociations,
  TagResourceCommand,
  UntagResourceCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import type { AwsClients } from '../../lib/aws/clients';
import { createCluster, emulatorClients } from '../support/emulator-fixtures';
import {
  EMULATOR_ACCOUNT_ID,
  EMULATOR_CREDENTIALS,
  type MotoServer,
  startMotoServer,
} from '../support/moto-server';
import { type PodIdentityFront, startPodIdentityFront } from '../support/pod-identity-front';

const POD_TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
    },
  ],
});

describe('the EKS Pod Identity fake in front of moto', () => {
  let moto: MotoServer;
  let front: PodIdentityFront;
  let admin: AwsClients;
  let eks: EKSClient;
  let eksOtherRegion: EKSClient;
  let roleArn: string;
  let otherRoleArn: string;

  async function role(name: string): Promise<string> {
    const created = await admin.iam.send(
      new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: POD_TRUST }),
    );
    return created.Role?.Arn ?? '';
  }

  beforeAll(async () => {
    moto = await startMotoServer();
    front = await startPodIdentityFront(moto.endpoint, { maxAssociationsPerCluster: 7 });
    admin = emulatorClients(moto.endpoint);
    const client = (region: string) =>
      new EKSClient({ region, endpoint: front.endpoint, credentials: EMULATOR_CREDENTIALS, maxAttempts: 1 });
    eks = client('eu-west-1');
    eksOtherRegion = client('us-east-1');
    await createCluster(admin, 'eu-west-1', 'alpha', { withOidcProvider: false });
    await createCluster(admin, 'eu-west-1', 'full', { withOidcProvider: false });
    roleArn = await role('pod-role');
    otherRoleArn = await role('other-pod-role');
  });

  afterAll(async () => {
    eks?.destroy();
    eksOtherRegion?.destroy();
    await front?.stop();
    await moto?.stop();
  });

  it('creates, describes, updates and deletes an association with the shapes of the EKS model', async () => {
    // Act
    const created = await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'alpha',
        namespace: 'observability',
        serviceAccount: 'otel-collector',
        roleArn,
        tags: { owner: 'test' },
      }),
    );
    const id = created.association?.associationId ?? '';
    const described = await eks.send(
      new DescribePodIdentityAssociationCommand({ clusterName: 'alpha', associationId: id }),
    );
    const updated = await eks.send(
      new UpdatePodIdentityAssociationCommand({
        clusterName: 'alpha',
        associationId: id,
        roleArn: otherRoleArn,
      }),
    );
    const deleted = await eks.send(
      new DeletePodIdentityAssociationCommand({ clusterName: 'alpha', associationId: id }),
    );

    // Assess
    expect(id).toMatch(/^a-[a-z0-9]{17}$/);
    expect(described.association).toMatchObject({
      clusterName: 'alpha',
      namespace: 'observability',
      serviceAccount: 'otel-collector',
      roleArn,
      associationArn: `arn:aws:eks:eu-west-1:${EMULATOR_ACCOUNT_ID}:podidentityassociation/alpha/${id}`,
      tags: { owner: 'test' },
    });
    expect(described.association?.createdAt).toBeInstanceOf(Date);
    expect(updated.association?.roleArn).toBe(otherRoleArn);
    expect(deleted.association?.associationId).toBe(id);
    await expect(
      eks.send(new DescribePodIdentityAssociationCommand({ clusterName: 'alpha', associationId: id })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
  });

  it.each([
    ['an unknown cluster', { clusterName: 'nope' }, 'ResourceNotFoundException', 404],
    [
      'a role IAM does not have',
      { roleArn: `arn:aws:iam::${EMULATOR_ACCOUNT_ID}:role/ghost` },
      'InvalidParameterException',
      400,
    ],
    ['a malformed role ARN', { roleArn: 'not-an-arn' }, 'InvalidParameterException', 400],
    ['no namespace', { namespace: '' }, 'InvalidParameterException', 400],
    ['a tag key starting with aws:', { tags: { 'aws:x': 'y' } }, 'InvalidParameterException', 400],
  ])('refuses a create for %s with %s', async (_, change, code, status) => {
    await expect(
      eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'alpha',
          namespace: 'ns',
          serviceAccount: 'sa',
          roleArn,
          ...change,
        }),
      ),
    ).rejects.toMatchObject({ name: code, $metadata: { httpStatusCode: status } });
  });

  it('keeps one association per namespace and ServiceAccount (ResourceInUseException)', async () => {
    const input = { clusterName: 'alpha', namespace: 'finops', serviceAccount: 'cost-agent', roleArn };
    await eks.send(new CreatePodIdentityAssociationCommand(input));
    await expect(eks.send(new CreatePodIdentityAssociationCommand(input))).rejects.toMatchObject({
      name: 'ResourceInUseException',
      $metadata: { httpStatusCode: 409 },
    });
  });

  it('holds a cluster to its association quota (ResourceLimitExceededException)', async () => {
    for (let n = 0; n < 7; n++) {
      await eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'full',
          namespace: 'ns',
          serviceAccount: `sa-${n}`,
          roleArn,
        }),
      );
    }
    await expect(
      eks.send(
        new CreatePodIdentityAssociationCommand({
          clusterName: 'full',
          namespace: 'ns',
          serviceAccount: 'sa-7',
          roleArn,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceLimitExceededException' });
  });

  it("lists summaries without role or tags, filtered and paginated by the SDK's paginator", async () => {
    // Act
    const pages = [];
    for await (const page of paginateListPodIdentityAssociations(
      { client: eks, pageSize: 3 },
      { clusterName: 'full', namespace: 'ns' },
    )) {
      pages.push(page);
    }
    const filtered = await eks.send(
      new ListPodIdentityAssociationsCommand({ clusterName: 'full', serviceAccount: 'sa-4' }),
    );

    // Assess
    expect(pages.map((page) => page.associations?.length)).toEqual([3, 3, 1]);
    const first = pages[0]?.associations?.[0];
    expect(Object.keys(first ?? {}).sort()).toEqual([
      'associationArn',
      'associationId',
      'clusterName',
      'namespace',
      'serviceAccount',
    ]);
    expect(filtered.associations?.map((item) => item.serviceAccount)).toEqual(['sa-4']);
  });

  it.each([
    ['maxResults 0', { maxResults: 0 }],
    ['maxResults 101', { maxResults: 101 }],
    ['a forged nextToken', { nextToken: 'forged' }],
  ])('refuses a list with %s (InvalidParameterException)', async (_, change) => {
    await expect(
      eks.send(new ListPodIdentityAssociationsCommand({ clusterName: 'full', ...change })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('keeps regions apart: a cluster of another region is not found', async () => {
    await expect(
      eksOtherRegion.send(new ListPodIdentityAssociationsCommand({ clusterName: 'alpha' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it("tags an association through the tagging calls, and leaves clusters' tags to moto", async () => {
    // Prepare
    const created = await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: 'alpha',
        namespace: 't',
        serviceAccount: 't',
        roleArn,
      }),
    );
    const arn = created.association?.associationArn ?? '';

    // Act
    await eks.send(new TagResourceCommand({ resourceArn: arn, tags: { a: '1', b: '2' } }));
    await eks.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['a'] }));
    const tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    const clusterTags = await eks.send(
      new ListTagsForResourceCommand({
        resourceArn: `arn:aws:eks:eu-west-1:${EMULATOR_ACCOUNT_ID}:cluster/alpha`,
      }),
    );

    // Assess
    expect(tags.tags).toEqual({ b: '2' });
    expect(clusterTags.tags).toEqual({});
  });

  it('refuses a role until IAM has propagated it, when asked to simulate that', async () => {
    // Prepare
    const slow = await startPodIdentityFront(moto.endpoint, { roleVisibleAfterMs: 300 });
    const client = new EKSClient({
      region: 'eu-west-1',
      endpoint: slow.endpoint,
      credentials: EMULATOR_CREDENTIALS,
      maxAttempts: 1,
    });
    const input = { clusterName: 'alpha', namespace: 'late', serviceAccount: 'late', roleArn };
    try {
      // Act / Assess
      await expect(client.send(new CreatePodIdentityAssociationCommand(input))).rejects.toMatchObject({
        name: 'InvalidParameterException',
      });
      await new Promise((resolve) => setTimeout(resolve, 350));
      await expect(client.send(new CreatePodIdentityAssociationCommand(input))).resolves.toBeDefined();
    } finally {
      client.destroy();
      await slow.stop();
    }
  });

  it('creates an add-on CREATING that turns ACTIVE, lists it, and refuses it twice', async () => {
    // Act
    await expect(
      eks.send(new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'eks-pod-identity-agent' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const created = await eks.send(
      new CreateAddonCommand({ clusterName: 'alpha', addonName: 'eks-pod-identity-agent' }),
    );
    const first = await eks.send(
      new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'eks-pod-identity-agent' }),
    );
    const second = await eks.send(
      new DescribeAddonCommand({ clusterName: 'alpha', addonName: 'eks-pod-identity-agent' }),
    );
    const listed = await eks.send(new ListAddonsCommand({ clusterName: 'alpha' }));

    // Assess
    expect(created.addon?.status).toBe('CREATING');
    expect(first.addon?.status).toBe('CREATING');
    expect(second.addon?.status).toBe('ACTIVE');
    expect(listed.addons).toEqual(['eks-pod-identity-agent']);
    await expect(
      eks.send(new CreateAddonCommand({ clusterName: 'alpha', addonName: 'eks-pod-identity-agent' })),
    ).rejects.toMatchObject({ name: 'ResourceInUseException' });
  });

  it('passes every other EKS call through to moto', async () => {
    const { cluster } = await import('@aws-sdk/client-eks').then(({ DescribeClusterCommand }) =>
      eks.send(new DescribeClusterCommand({ name: 'alpha' })),
    );
    expect(cluster?.name).toBe('alpha');
    expect(front.calls.DescribeCluster).toBeUndefined();
  });
});
