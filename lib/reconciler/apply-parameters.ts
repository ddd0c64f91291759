import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { awsErrorCode, toAwsCallError } from '../errors';
import type { ReconcilerDeps } from './deps';
import { TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_STAGE } from './ownership';
import type { DesiredParameter, ReconcilerConfig } from './types';

/**
 * The SSM calls that publish IRSA role ARNs. The parameters live under the stage's own folder
 * (`/irsa-reconciler/<stage>/roles/`), which the stack's IAM policy is the only one to let the
 * reconciler write: a parameter there is the deployment's by its name, so an update or delete needs no
 * re-read. A new parameter carries the ownership tags (SSM takes tags on create only).
 */

export async function putParameter(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  parameter: DesiredParameter,
  create: boolean,
): Promise<void> {
  const ssm = deps.clients.ssm(parameter.region);
  const base = {
    Name: parameter.name,
    Value: parameter.value,
    Type: 'String' as const,
    Description: `ARN of the IRSA role ${parameter.roleName}, managed by irsa-reconciler stage ${config.stage}`,
  };
  try {
    if (create) {
      try {
        await ssm.send(
          new PutParameterCommand({
            ...base,
            Tags: [
              { Key: TAG_MANAGED_BY, Value: TAG_MANAGED_BY_VALUE },
              { Key: TAG_STAGE, Value: config.stage },
            ],
          }),
        );
        return;
      } catch (error) {
        // Made meanwhile (a retried call that went through): written again below.
        if (awsErrorCode(error) !== 'ParameterAlreadyExists') throw error;
      }
    }
    await ssm.send(new PutParameterCommand({ ...base, Overwrite: true }));
  } catch (error) {
    throw toAwsCallError(`SSM PutParameter ${parameter.name} in ${parameter.region}`, error);
  }
}

export async function deleteParameter(deps: ReconcilerDeps, region: string, name: string): Promise<void> {
  try {
    await deps.clients.ssm(region).send(new DeleteParameterCommand({ Name: name }));
  } catch (error) {
    if (awsErrorCode(error) === 'ParameterNotFound') return;
    throw toAwsCallError(`SSM DeleteParameter ${name} in ${region}`, error);
  }
}
