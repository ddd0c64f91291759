import {
  AppConfigClient,
  GetHostedConfigurationVersionCommand,
  type GetHostedConfigurationVersionCommandOutput,
} from '@aws-sdk/client-appconfig';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createAwsClients } from '../../../lib/aws/clients';
import { AwsCallError, ConfigError } from '../../../lib/errors';
import { cachedConfigLoader, readDeployedConfig } from '../../../lib/lambda/deployed-config';
import { reconcilerConfig } from './support';

const appconfig = mockClient(AppConfigClient);
const clients = createAwsClients({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'u', secretAccessKey: 'u' },
  maxAttempts: 1,
});
const LOCATION = { applicationId: 'cfg1234', profileId: 'rcp1234', version: '7' };
const CONTEXT = { stage: 'uat', region: 'eu-west-1' };
const RAW = {
  clusters: { include: ['uat-*'] },
  permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary',
  bindings: [],
};

/** The body as the SDK hands it over: a Uint8Array (the SDK's adapter adds only text helpers to it). */
function content(text: string) {
  const body = new TextEncoder().encode(text) as GetHostedConfigurationVersionCommandOutput['Content'];
  return { Content: body, ContentType: 'application/json' };
}

describe('readDeployedConfig', () => {
  afterEach(() => appconfig.reset());

  it('reads exactly the version the deployment names and validates it with the stage and region', async () => {
    // Prepare
    appconfig.on(GetHostedConfigurationVersionCommand).resolves(content(JSON.stringify(RAW)));

    // Act
    const config = await readDeployedConfig(clients, LOCATION, CONTEXT);

    // Assess
    expect(appconfig).toHaveReceivedCommandWith(GetHostedConfigurationVersionCommand, {
      ApplicationId: 'cfg1234',
      ConfigurationProfileId: 'rcp1234',
      VersionNumber: 7,
    });
    expect(config).toMatchObject({
      stage: 'uat',
      deploymentRegion: 'eu-west-1',
      rolePath: '/irsa-reconciler/uat/',
    });
  });

  it('names the version and the field of an invalid configuration', async () => {
    appconfig
      .on(GetHostedConfigurationVersionCommand)
      .resolves(content(JSON.stringify({ ...RAW, bindings: [{ name: 'Bad Name' }] })));

    const outcome = readDeployedConfig(clients, LOCATION, CONTEXT);

    await expect(outcome).rejects.toBeInstanceOf(ConfigError);
    await expect(outcome).rejects.toThrow(
      /^Invalid reconciler configuration in AppConfig hosted configuration cfg1234\/rcp1234 version 7: bindings\[0\]\.name: /,
    );
  });

  it('names the version of a document that is not JSON', async () => {
    appconfig.on(GetHostedConfigurationVersionCommand).resolves(content('bindings: []'));

    await expect(readDeployedConfig(clients, LOCATION, CONTEXT)).rejects.toThrow(
      /version 7 is not valid JSON/,
    );
  });

  it('fails with the AWS error when the version cannot be read (never an empty configuration)', async () => {
    appconfig.on(GetHostedConfigurationVersionCommand).rejects(
      Object.assign(new Error('Hosted configuration version 7 not found'), {
        name: 'ResourceNotFoundException',
        $metadata: {},
      }),
    );

    const outcome = readDeployedConfig(clients, LOCATION, CONTEXT);

    await expect(outcome).rejects.toBeInstanceOf(AwsCallError);
    await expect(outcome).rejects.toThrow(
      /AppConfig GetHostedConfigurationVersion .*ResourceNotFoundException/,
    );
  });
});

describe('cachedConfigLoader', () => {
  it('reads once per container and keeps the result', async () => {
    const load = jest.fn(async () => reconcilerConfig());
    const loader = cachedConfigLoader(load);

    await loader();
    await loader();

    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failure: the next invocation reads again', async () => {
    const load = jest
      .fn<Promise<ReturnType<typeof reconcilerConfig>>, []>()
      .mockRejectedValueOnce(new Error('ThrottlingException'))
      .mockResolvedValueOnce(reconcilerConfig());
    const loader = cachedConfigLoader(load);

    await expect(loader()).rejects.toThrow('ThrottlingException');
    await expect(loader()).resolves.toMatchObject({ stage: 'uat' });
    expect(load).toHaveBeenCalledTimes(2);
  });
});
