import { DescribeClusterCommand, EKSClient, ListClustersCommand } from '@aws-sdk/client-eks';
import { IAMClient, ListOpenIDConnectProvidersCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { discover, partitionOfArn } from '../../../../lib/reconciler/observe/discovery';
import { serviceError, testConfig, testDeps } from '../io-support';

const eks = mockClient(EKSClient);
const iam = mockClient(IAMClient);
const sts = mockClient(STSClient);

function cluster(name: string, region = 'eu-west-1') {
  return {
    cluster: {
      name,
      arn: `arn:aws:eks:${region}:123456789012:cluster/${name}`,
      status: 'ACTIVE' as const,
      identity: { oidc: { issuer: `https://oidc.eks.${region}.amazonaws.com/id/${name.toUpperCase()}` } },
      tags: { team: 'platform' },
    },
  };
}

describe('discover', () => {
  beforeEach(() => {
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ci' });
    iam.on(ListOpenIDConnectProvidersCommand).resolves({
      OpenIDConnectProviderList: [
        { Arn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/A' },
      ],
    });
    eks.on(DescribeClusterCommand).callsFake((input: { name: string }) => cluster(input.name));
  });
  afterEach(() => {
    eks.reset();
    iam.reset();
    sts.reset();
  });

  it('follows every page of ListClusters and describes each cluster once', async () => {
    // Prepare
    eks
      .on(ListClustersCommand)
      .resolves({ clusters: ['a', 'b'], nextToken: 'page-2' })
      .on(ListClustersCommand, { nextToken: 'page-2' })
      .resolves({ clusters: ['c'], nextToken: 'page-3' })
      .on(ListClustersCommand, { nextToken: 'page-3' })
      .resolves({ clusters: ['d'] });

    // Act
    const discovery = await discover(testDeps(), testConfig());

    // Assess
    expect(eks).toHaveReceivedCommandTimes(ListClustersCommand, 3);
    expect(eks).toHaveReceivedCommandWith(ListClustersCommand, { nextToken: 'page-3', maxResults: 100 });
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 4);
    expect(discovery.regions).toEqual([expect.objectContaining({ region: 'eu-west-1', status: 'complete' })]);
    expect(discovery.regions[0]?.clusters.map((c) => c.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(discovery.regions[0]?.clusters[0]).toEqual({
      name: 'a',
      region: 'eu-west-1',
      arn: 'arn:aws:eks:eu-west-1:123456789012:cluster/a',
      status: 'ACTIVE',
      oidcIssuer: 'https://oidc.eks.eu-west-1.amazonaws.com/id/A',
      tags: { team: 'platform' },
    });
    expect(discovery.account).toEqual({ accountId: '123456789012', partition: 'aws' });
    expect(discovery.oidcProviderArns).toHaveLength(1);
    expect(iam).toHaveReceivedCommandTimes(ListOpenIDConnectProvidersCommand, 1);
  });

  it('marks a region unknown, never empty, when its ListClusters fails', async () => {
    // Prepare
    const config = testConfig({ regions: ['eu-west-1', 'us-east-1'] });
    const deps = testDeps();
    // Every region has its own client instance: answer by the calling client's region.
    eks.on(ListClustersCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      if (region === 'us-east-1') throw serviceError('AccessDeniedException', 403);
      return { clusters: ['a'] };
    });

    // Act
    const discovery = await discover(deps, config);

    // Assess
    expect(discovery.regions[0]).toMatchObject({ region: 'eu-west-1', status: 'complete' });
    expect(discovery.regions[1]).toMatchObject({ region: 'us-east-1', status: 'unknown', clusters: [] });
    expect(discovery.regions[1]).toHaveProperty('error', expect.stringContaining('AccessDeniedException'));
  });

  it('keeps a region complete when a listed cluster vanished before DescribeCluster', async () => {
    // Prepare
    eks.on(ListClustersCommand).resolves({ clusters: ['a', 'gone'] });
    eks.on(DescribeClusterCommand, { name: 'gone' }).rejects(serviceError('ResourceNotFoundException', 404));

    // Act
    const discovery = await discover(testDeps(), testConfig());

    // Assess
    expect(discovery.regions[0]?.status).toBe('complete');
    expect(discovery.regions[0]?.clusters.map((c) => c.name)).toEqual(['a']);
  });

  it('keeps the clusters it described but marks the region unknown when another describe fails', async () => {
    // Prepare
    eks.on(ListClustersCommand).resolves({ clusters: ['a', 'broken'] });
    eks
      .on(DescribeClusterCommand, { name: 'broken' })
      .rejects(serviceError('ServiceUnavailableException', 503));

    // Act
    const discovery = await discover(testDeps(), testConfig());

    // Assess
    expect(discovery.regions[0]).toMatchObject({ status: 'unknown' });
    expect(discovery.regions[0]?.clusters.map((c) => c.name)).toEqual(['a']);
    expect(discovery.regions[0]).toHaveProperty('error', expect.stringContaining('broken'));
  });

  it('never has more DescribeCluster calls in flight than the configured concurrency', async () => {
    // Prepare
    const names = Array.from({ length: 12 }, (_, index) => `c${index}`);
    eks.on(ListClustersCommand).resolves({ clusters: names });
    let inFlight = 0;
    let peak = 0;
    eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return cluster(input.name);
    });

    // Act
    const discovery = await discover(testDeps(), testConfig({ concurrency: 3 }));

    // Assess
    expect(discovery.regions[0]?.clusters).toHaveLength(12);
    expect(peak).toBe(3);
  });

  it('fails the whole discovery when the caller identity cannot be read', async () => {
    // Prepare
    sts.on(GetCallerIdentityCommand).rejects(serviceError('ExpiredToken', 403));
    eks.on(ListClustersCommand).resolves({ clusters: [] });

    // Act / Assess
    await expect(discover(testDeps(), testConfig())).rejects.toThrow(
      /STS GetCallerIdentity failed: ExpiredToken/,
    );
  });

  it('reads the partition from the caller ARN', async () => {
    // Prepare
    sts.on(GetCallerIdentityCommand).resolves({
      Account: '210987654321',
      Arn: 'arn:aws-cn:sts::210987654321:assumed-role/deployer/session',
    });
    eks.on(ListClustersCommand).resolves({ clusters: [] });

    // Act
    const discovery = await discover(testDeps(), testConfig({ regions: ['cn-north-1'] }));

    // Assess
    expect(discovery.account).toEqual({ accountId: '210987654321', partition: 'aws-cn' });
  });
});

describe('partitionOfArn', () => {
  it.each([
    ['arn:aws:iam::123456789012:root', 'aws'],
    ['arn:aws-cn:iam::123456789012:root', 'aws-cn'],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/r/s', 'aws-us-gov'],
  ])('reads %s as partition %s', (arn, partition) => {
    expect(partitionOfArn(arn)).toBe(partition);
  });

  it.each([['arn:aws-iso:iam::123456789012:root'], ['not-an-arn'], [undefined]])(
    'rejects %s with a message naming the ARN',
    (arn) => {
      expect(() => partitionOfArn(arn)).toThrow(/cannot tell the AWS partition/);
    },
  );
});
