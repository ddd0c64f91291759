/** Types of config/stage-values.js (a Serverless variable source, plain CommonJS). */
export type CloudFormationString = string | { 'Fn::Sub': string };
export type CloudFormationValue = CloudFormationString | { Ref: string };

export interface BoundaryResource {
  Type: 'AWS::IAM::ManagedPolicy';
  Properties: { ManagedPolicyName: string; Path: string; Description: string; PolicyDocument: unknown };
}

export interface SerialisedReconcilerConfig {
  config: Record<string, unknown>;
  json: CloudFormationString;
  rolePath: string;
  roleNamePrefix: string;
  functionRolePath: string;
  serviceRolePath: string;
  createOidcProvider: 'true' | 'false';
  installPodIdentityAgent: 'true' | 'false';
  publishRoleArns: 'true' | 'false';
  permissionsBoundaryArn: CloudFormationValue;
  boundaryResources: Record<string, BoundaryResource>;
}

export interface StageValues extends SerialisedReconcilerConfig {
  chartPath: string;
  chartIndexFormat: 'yaml' | 'json';
  chartIndexerMemoryMb: number;
  chartOci: ChartOciValues;
  clusterEvents: { ruleState: 'ENABLED' | 'DISABLED'; maxWaitMinutes: string };
  appConfigResourcesFile: 'appconfig.yml' | 'none.yml';
  appConfigSecretResources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  parameters: Record<
    | 'CreateOidcProvider'
    | 'InstallPodIdentityAgent'
    | 'ChartOciPublishing'
    | 'PublishRoleArns'
    | 'DataReadRoleName'
    | 'CreateDataBucketUser',
    string
  >;
}

export const STACK_TOKENS: readonly string[];
export function serialiseReconcilerConfig(
  reconciler: unknown,
  stage: string,
  region?: string,
  forwardEvents?: boolean,
): SerialisedReconcilerConfig;
export function toCloudFormationString(text: string): CloudFormationString;
export function chartPathOf(chartPrefix: unknown, stage: string): string;
export function chartIndexFormatOf(format: unknown, stage: string): 'yaml' | 'json';
export function chartIndexerMemoryMbOf(value: unknown, stage: string): number;
export interface ChartOciValues {
  enabled: 'true' | 'false';
  registry: CloudFormationString;
  repositoryPrefix: string;
  deleteTags: 'true' | 'false';
}
export function chartOciOf(value: unknown, stage: string): ChartOciValues;
export function clusterEventsOf(
  value: unknown,
  stage: string,
): { ruleState: 'ENABLED' | 'DISABLED'; maxWaitMinutes: string };
export function appConfigSecretResources(
  value: unknown,
  createAppConfig: boolean,
  stage: string,
  region: string,
): Record<string, { Type: string; Properties: Record<string, unknown> }>;
export function functionRolePathOf(stage: string): string;
export function serviceRolePathOf(stage: string): string;
export function stageValues(stageFile: unknown, stage: string): StageValues;

declare function resolve(source: {
  resolveVariable(address: string): Promise<unknown>;
}): Promise<StageValues>;
export default resolve;
