import { AppConfigClient } from '@aws-sdk/client-appconfig';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { ApiCallCounter } from './api-calls';

/** The AWS clients the core works with. Handlers build one set per container and inject it. */
export interface AwsClients {
  eks(region: string): EKSClient;
  /** Parameter Store of a region (the published role ARNs live in their cluster's region). */
  ssm(region: string): SSMClient;
  /** ECR of a region (the indexer's OCI registry). */
  ecr(region: string): ECRClient;
  /** EventBridge of a region (the rules forwarding cluster calls to the stack's region). */
  events(region: string): EventBridgeClient;
  /** EC2 of a region: only DescribeRegions, the regions a forwarding rule may be in. */
  ec2(region: string): EC2Client;
  iam: IAMClient;
  sts: STSClient;
  s3: S3Client;
  /** The deployment's own configuration (a hosted configuration version the stack wrote). */
  appconfig: AppConfigClient;
  /** The deployment's own stack (the custom resource checks it is really being deleted). */
  cloudformation: CloudFormationClient;
  readonly calls: ApiCallCounter;
}

export interface AwsClientOptions {
  /** Region of the deployment: STS, S3 and (in the commercial partition) IAM are called there. */
  region: string;
  /** Endpoint override for every service (the local emulator). */
  endpoint?: string;
  /** Per-region endpoint overrides for EKS, applied before `endpoint`. */
  eksEndpoints?: Record<string, string>;
  credentials?: AwsCredentialIdentity;
  /** Attempts per call including the first; the SDK retries throttling and 5xx with backoff. */
  maxAttempts?: number;
  /** Upper bound on sockets per client, so bounded concurrency is really bounded. */
  maxSockets?: number;
  /**
   * The SDK's retry mode; `adaptive` (default) also rate-limits the client after throttling. The
   * benchmarks compare both under injected throttling (docs/performance.md).
   */
  retryMode?: 'standard' | 'adaptive';
}

export function createAwsClients(options: AwsClientOptions): AwsClients {
  const calls = new ApiCallCounter();
  const common = {
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 8,
    retryMode: options.retryMode ?? 'adaptive',
  };
  const endpointFor = (region: string, overrides?: Record<string, string>) => {
    const endpoint = overrides?.[region] ?? options.endpoint;
    return endpoint ? { endpoint } : {};
  };
  return {
    calls,
    ecr: perRegion((region) =>
      calls.attach('ECR', new ECRClient({ ...common, region, ...endpointFor(region) })),
    ),
    events: perRegion((region) =>
      calls.attach('EventBridge', new EventBridgeClient({ ...common, region, ...endpointFor(region) })),
    ),
    ec2: perRegion((region) =>
      calls.attach('EC2', new EC2Client({ ...common, region, ...endpointFor(region) })),
    ),
    ssm: perRegion((region) =>
      calls.attach('SSM', new SSMClient({ ...common, region, ...endpointFor(region) })),
    ),
    eks: perRegion((region) =>
      calls.attach('EKS', new EKSClient({ ...common, region, ...endpointFor(region, options.eksEndpoints) })),
    ),
    iam: calls.attach(
      'IAM',
      new IAMClient({
        ...common,
        region: iamRegion(options.region),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      }),
    ),
    sts: calls.attach(
      'STS',
      new STSClient({
        ...common,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      }),
    ),
    appconfig: calls.attach(
      'AppConfig',
      new AppConfigClient({
        ...common,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      }),
    ),
    cloudformation: calls.attach(
      'CloudFormation',
      new CloudFormationClient({
        ...common,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      }),
    ),
    s3: calls.attach(
      'S3',
      new S3Client({
        ...common,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      }),
    ),
  };
}

/** One client per region, made on first use and kept for the container's life. */
function perRegion<C>(create: (region: string) => C): (region: string) => C {
  const clients = new Map<string, C>();
  return (region) => {
    let client = clients.get(region);
    if (client === undefined) {
      client = create(region);
      clients.set(region, client);
    }
    return client;
  };
}

/** IAM is global; its endpoint lives in one region per partition. */
export function iamRegion(deploymentRegion: string): string {
  if (deploymentRegion.startsWith('cn-')) return 'cn-north-1';
  if (deploymentRegion.startsWith('us-gov-')) return 'us-gov-west-1';
  return 'us-east-1';
}
