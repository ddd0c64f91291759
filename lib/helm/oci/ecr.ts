import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  type ECRClient,
  GetAuthorizationTokenCommand,
  PutLifecyclePolicyCommand,
} from '@aws-sdk/client-ecr';
import { awsErrorCode, toAwsCallError } from '../../errors';

/**
 * Amazon ECR as the chart registry: its control plane through the SDK (authorization token, the
 * repository made on the first push), its data plane through the OCI distribution API (registry.ts).
 */

/** Days an image keeps no tag (its chart's .tgz deleted) before ECR expires it. */
export const UNTAGGED_EXPIRY_DAYS = 7;

/** The `Authorization` header for the registry, from ecr:GetAuthorizationToken, renewed before it expires. */
export function ecrAuthorization(ecr: ECRClient, now: () => number = Date.now): () => Promise<string> {
  let cached: { header: string; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt - 5 * 60_000 > now()) return cached.header;
    try {
      const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
      const data = authorizationData?.[0];
      if (!data?.authorizationToken) throw new Error('GetAuthorizationToken returned no token');
      cached = {
        header: `Basic ${data.authorizationToken}`,
        expiresAt: data.expiresAt?.getTime() ?? now() + 60 * 60_000,
      };
      return cached.header;
    } catch (error) {
      throw toAwsCallError('ECR GetAuthorizationToken', error);
    }
  };
}

/**
 * Removes a tag with ecr:BatchDeleteImage (ECR's registry API does not delete manifests); a tag or
 * repository that is not there is already removed. An image left without a tag expires by the
 * repository's lifecycle rule.
 */
export async function deleteEcrTag(
  ecr: ECRClient,
  repositoryName: string,
  tag: string,
): Promise<'deleted' | 'absent'> {
  try {
    const { imageIds, failures } = await ecr.send(
      new BatchDeleteImageCommand({ repositoryName, imageIds: [{ imageTag: tag }] }),
    );
    if ((imageIds ?? []).length > 0) return 'deleted';
    const failure = failures?.[0];
    if (
      failure === undefined ||
      failure.failureCode === 'ImageNotFound' ||
      failure.failureCode === 'ImageTagDoesNotMatchDigest'
    ) {
      return 'absent';
    }
    throw new Error(`${failure.failureCode}: ${failure.failureReason}`);
  } catch (error) {
    if (awsErrorCode(error) === 'RepositoryNotFoundException') return 'absent';
    throw toAwsCallError(`ECR BatchDeleteImage ${repositoryName}:${tag}`, error);
  }
}

/**
 * Makes the repository on the first push: scan on push, immutable tags (a chart version is never
 * overwritten under the same tag), AES-256 encryption, the ownership tags, and a lifecycle rule that
 * expires images left without a tag. An existing repository is left as it is.
 */
export async function ensureEcrRepository(
  ecr: ECRClient,
  repositoryName: string,
  tags: Record<string, string>,
): Promise<'created' | 'exists'> {
  try {
    await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] }));
    return 'exists';
  } catch (error) {
    if (awsErrorCode(error) !== 'RepositoryNotFoundException') {
      throw toAwsCallError(`ECR DescribeRepositories ${repositoryName}`, error);
    }
  }
  try {
    await ecr.send(
      new CreateRepositoryCommand({
        repositoryName,
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: { encryptionType: 'AES256' },
        tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  } catch (error) {
    // Made meanwhile by a concurrent push: what was wanted.
    if (awsErrorCode(error) === 'RepositoryAlreadyExistsException') return 'exists';
    throw toAwsCallError(`ECR CreateRepository ${repositoryName}`, error);
  }
  try {
    await ecr.send(
      new PutLifecyclePolicyCommand({
        repositoryName,
        lifecyclePolicyText: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: `expire chart images left without a tag for ${UNTAGGED_EXPIRY_DAYS} days`,
              selection: {
                tagStatus: 'untagged',
                countType: 'sinceImagePushed',
                countUnit: 'days',
                countNumber: UNTAGGED_EXPIRY_DAYS,
              },
              action: { type: 'expire' },
            },
          ],
        }),
      }),
    );
  } catch (error) {
    throw toAwsCallError(`ECR PutLifecyclePolicy ${repositoryName}`, error);
  }
  return 'created';
}
