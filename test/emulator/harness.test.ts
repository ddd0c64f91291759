import { CreateClusterCommand, ListClustersCommand } from '@aws-sdk/client-eks';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { createAwsClients } from '../../lib/aws/clients';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from '../support/moto-server';

describe('the moto emulator harness', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });

  it('serves EKS per region and counts the calls made through the injected clients', async () => {
    // Prepare
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    await clients.eks('eu-west-1').send(
      new CreateClusterCommand({
        name: 'alpha',
        roleArn: 'arn:aws:iam::123456789012:role/eks',
        resourcesVpcConfig: { subnetIds: [] },
      }),
    );

    // Act
    const inIreland = await clients.eks('eu-west-1').send(new ListClustersCommand({}));
    const inVirginia = await clients.eks('us-east-1').send(new ListClustersCommand({}));
    await clients.iam.send(new ListRolesCommand({}));

    // Assess
    expect(inIreland.clusters).toEqual(['alpha']);
    expect(inVirginia.clusters).toEqual([]);
    expect(clients.calls.snapshot()).toEqual({
      'EKS:CreateCluster': 1,
      'EKS:ListClusters': 2,
      'IAM:ListRoles': 1,
    });
    expect(clients.calls.writes()).toBe(1);
  });
});
