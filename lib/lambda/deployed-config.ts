import { GetHostedConfigurationVersionCommand } from '@aws-sdk/client-appconfig';
import type { AwsClients } from '../aws/clients';
import { ConfigError, toAwsCallError } from '../errors';
import { parseReconcilerConfig } from '../reconciler/config/schema';
import type { ReconcilerConfig } from '../reconciler/types';

/**
 * The reconciler configuration the deployment wrote: one AppConfig hosted configuration version, named
 * by the function's environment (templates/resources/reconciler-config.yml). Never taken from an event:
 * whoever may invoke a function must not be able to choose the roles it makes or removes.
 */
export interface DeployedConfigLocation {
  applicationId: string;
  profileId: string;
  /** The hosted configuration version, a positive whole number as text. */
  version: string;
}

export interface DeployedConfigContext {
  stage: string;
  region: string;
}

/** Reads and validates the configuration; a missing version or an invalid document is a ConfigError. */
export async function readDeployedConfig(
  clients: Pick<AwsClients, 'appconfig'>,
  location: DeployedConfigLocation,
  context: DeployedConfigContext,
): Promise<ReconcilerConfig> {
  const where = `AppConfig hosted configuration ${location.applicationId}/${location.profileId} version ${location.version}`;
  let content: Uint8Array | undefined;
  try {
    const response = await clients.appconfig.send(
      new GetHostedConfigurationVersionCommand({
        ApplicationId: location.applicationId,
        ConfigurationProfileId: location.profileId,
        VersionNumber: Number(location.version),
      }),
    );
    content = response.Content;
  } catch (error) {
    throw toAwsCallError(`AppConfig GetHostedConfigurationVersion (${where})`, error);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(content ?? new Uint8Array()).toString('utf8'));
  } catch (error) {
    throw new ConfigError(`${where} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parseReconcilerConfig(raw, { stage: context.stage, deploymentRegion: context.region });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(`Invalid reconciler configuration in ${where}: ${error.message}`, { cause: error });
  }
}

/**
 * A loader that reads the configuration once per container and keeps it; a failed read is not kept,
 * so the next invocation tries again (a throttled cold start must not poison the container).
 */
export function cachedConfigLoader(load: () => Promise<ReconcilerConfig>): () => Promise<ReconcilerConfig> {
  let pending: Promise<ReconcilerConfig> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
