import { createAwsClients } from '../../../lib/aws/clients';
import { silentLogger } from '../../../lib/observability/logger';
import type { ReconcilerDeps } from '../../../lib/reconciler/deps';
import {
  TAG_BINDING,
  TAG_CLUSTER,
  TAG_MANAGED_BY,
  TAG_MANAGED_BY_VALUE,
  TAG_REGION,
  TAG_STAGE,
} from '../../../lib/reconciler/ownership';
import type { ReconcilerConfig } from '../../../lib/reconciler/types';

/** A complete configuration as parseReconcilerConfig would return it with its defaults. */
export function testConfig(overrides: Partial<ReconcilerConfig> = {}): ReconcilerConfig {
  return {
    stage: 'dev',
    deploymentRegion: 'eu-west-1',
    regions: ['eu-west-1'],
    clusters: { include: ['*'], exclude: [], optOutTagKey: 'irsa-reconciler/opt-out' },
    bindings: [],
    rolePath: '/irsa-reconciler/dev/',
    roleNamePrefix: 'irsa-',
    tags: {},
    prune: true,
    maxPruneFraction: 0.5,
    forcePrune: false,
    allowForcePruneOnInvoke: false,
    detachUnmanagedPolicies: false,
    permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/irsa-reconciler/dev/workload-boundary',
    dryRun: false,
    createOidcProvider: false,
    podIdentity: { installAgent: false, verifyEveryRuns: 1 },
    publishRoleArns: false,
    concurrency: 4,
    ...overrides,
  };
}

/** Real SDK clients (their `send` is replaced by aws-sdk-client-mock in each test file). */
export function testDeps(): ReconcilerDeps {
  return {
    clients: createAwsClients({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
      maxAttempts: 1,
    }),
    logger: silentLogger,
  };
}

/** The tags of a role the `dev` stage owns, in ListRoleTags' shape. */
export function ownedTagList(stage = 'dev'): { Key: string; Value: string }[] {
  return [
    { Key: TAG_MANAGED_BY, Value: TAG_MANAGED_BY_VALUE },
    { Key: TAG_STAGE, Value: stage },
    { Key: TAG_REGION, Value: 'eu-west-1' },
    { Key: TAG_CLUSTER, Value: 'alpha' },
    { Key: TAG_BINDING, Value: 'otel' },
  ];
}

/** An SDK-shaped service error (name, $fault, $metadata) as the client would throw it. */
export function serviceError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} from the mock`), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}
