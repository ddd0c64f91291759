/** Types of config/stage-values.js (a Serverless variable source, plain CommonJS). */
export type CloudFormationString = string | { 'Fn::Sub': string };
export type ConfigValue =
  | CloudFormationString
  | { 'Fn::If': [string, CloudFormationString, { Ref: 'AWS::NoValue' }] };

export interface SerialisedReconcilerConfig {
  config: Record<string, unknown>;
  json: CloudFormationString;
  rolePath: string;
  createOidcProvider: 'true' | 'false';
  usePermissionsBoundary: 'true' | 'false';
  permissionsBoundaryArn: CloudFormationString;
}

export interface StageValues extends Omit<SerialisedReconcilerConfig, 'json'> {
  json: ConfigValue;
  chartPath: string;
  parameters: Record<
    | 'CreateOidcProvider'
    | 'UsePermissionsBoundary'
    | 'DataReadRoleName'
    | 'CreateDataBucketUser'
    | 'CreateAppConfig',
    string
  >;
}

export const STACK_TOKENS: readonly string[];
export function serialiseReconcilerConfig(reconciler: unknown, stage: string): SerialisedReconcilerConfig;
export function toCloudFormationString(text: string): CloudFormationString;
export function chartPathOf(chartPrefix: unknown, stage: string): string;
export function stageValues(stageFile: unknown, stage: string): StageValues;

declare function resolve(source: {
  resolveVariable(address: string): Promise<unknown>;
}): Promise<StageValues>;
export default resolve;
