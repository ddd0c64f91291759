/**
 * Serverless variable source: `${file(./config/stage-values.js):<key>}` (serverless.yml loads it into
 * `custom.values`). Every value the stack derives from config/<stage>.yml is computed and checked here.
 *
 * Turns the `reconciler` section of config/<stage>.yml into the JSON string that both reconciling
 * functions receive (RECONCILER_CONFIG for the schedule, the custom resource's `Config` property), and
 * derives from the same object the values the IAM policies must agree with (role path, OIDC switch,
 * permissions boundary), so the configuration and the permissions cannot drift apart.
 *
 * String values may carry CloudFormation tokens (see STACK_TOKENS); the JSON is then wrapped in
 * Fn::Sub and every other `${` is escaped, so a literal `${...}` in the configuration stays literal.
 */

/** Tokens CloudFormation resolves in the configuration: pseudo parameters and this stack's resources. */
const STACK_TOKENS = [
  'AWS::AccountId',
  'AWS::Region',
  'AWS::Partition',
  'AWS::URLSuffix',
  'DataBucket',
  'ChartBucket',
  'AppConfigApplication',
  'AppConfigEnvironment',
  'AppConfigProfile',
];

/** Lambda allows 4 KB for all environment variables of a function together; keep room for the others. */
const MAX_CONFIG_BYTES = 3584;

const ROLE_PATH = /^\/([A-Za-z0-9+=,.@_-]+\/)*$/;

/**
 * @param {unknown} reconciler the `reconciler` section, Serverless variables already resolved
 * @param {string} stage
 * @returns {{ config: Record<string, unknown>, json: unknown, rolePath: string,
 *   createOidcProvider: 'true' | 'false', usePermissionsBoundary: 'true' | 'false', permissionsBoundaryArn: unknown }}
 */
function serialiseReconcilerConfig(reconciler, stage) {
  if (reconciler === null || typeof reconciler !== 'object' || Array.isArray(reconciler)) {
    throw new Error(`config/${stage}.yml: "reconciler" must be a mapping (the reconciler configuration)`);
  }
  const config = { ...reconciler };
  const rolePath = config.rolePath ?? `/irsa-reconciler/${stage}/`;
  if (typeof rolePath !== 'string' || !ROLE_PATH.test(rolePath) || rolePath === '/') {
    throw new Error(
      `config/${stage}.yml: reconciler.rolePath must be an IAM path like /irsa-reconciler/${stage}/ (got ${JSON.stringify(rolePath)})`,
    );
  }
  // Written out explicitly: the IAM policies are scoped to this path and gated on these switches.
  config.rolePath = rolePath;
  const createOidcProvider = config.createOidcProvider ?? false;
  if (typeof createOidcProvider !== 'boolean') {
    throw new Error(`config/${stage}.yml: reconciler.createOidcProvider must be true or false`);
  }
  config.createOidcProvider = createOidcProvider;
  const boundary = config.permissionsBoundaryArn ?? '';
  if (typeof boundary !== 'string') {
    throw new Error(`config/${stage}.yml: reconciler.permissionsBoundaryArn must be a policy ARN or ''`);
  }
  if (boundary === '') delete config.permissionsBoundaryArn;

  const text = JSON.stringify(config);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new Error(
      `config/${stage}.yml: the reconciler configuration is ${Buffer.byteLength(text)} bytes as JSON; ` +
        `Lambda environment variables are limited to 4 KB in total, keep it under ${MAX_CONFIG_BYTES}`,
    );
  }
  return {
    config,
    json: toCloudFormationString(text),
    rolePath,
    createOidcProvider: String(createOidcProvider),
    usePermissionsBoundary: String(boundary !== ''),
    permissionsBoundaryArn: boundary === '' ? '' : toCloudFormationString(boundary),
  };
}

/**
 * A string CloudFormation passes through unchanged: plain when it has no stack token, otherwise an
 * Fn::Sub in which every `${` that is not a known token is escaped as `${!`.
 */
function toCloudFormationString(text) {
  const tokens = [...text.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]);
  if (!tokens.some((name) => STACK_TOKENS.includes(name))) return text;
  return {
    'Fn::Sub': text.replace(/\$\{([^}]*)\}/g, (match, name) =>
      STACK_TOKENS.includes(name) ? match : `\${!${name}}`,
    ),
  };
}

const CHART_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/$/;

/** The repository path of the chart prefix (`charts/` → `charts`); the prefix must be a folder. */
function chartPathOf(chartPrefix, stage) {
  if (typeof chartPrefix !== 'string' || !CHART_PREFIX.test(chartPrefix)) {
    throw new Error(
      `config/${stage}.yml: chartPrefix must be a key prefix ending in "/" such as charts/ (got ${JSON.stringify(chartPrefix)})`,
    );
  }
  return chartPrefix.slice(0, -1);
}

const APPCONFIG_TOKENS = ['AppConfigApplication', 'AppConfigEnvironment', 'AppConfigProfile'];

/**
 * The configuration JSON may name the stack's AppConfig resources only when the stage creates them;
 * the value is then guarded by the same Condition, so the template stays valid with the switch off.
 */
function guardAppConfigTokens(value, createAppConfig, stage) {
  const text = typeof value === 'string' ? value : value['Fn::Sub'];
  const used = APPCONFIG_TOKENS.filter((name) => text.includes(`\${${name}}`));
  if (used.length === 0) return value;
  if (!createAppConfig) {
    throw new Error(
      `config/${stage}.yml: the reconciler configuration uses \${${used[0]}} but createAppConfig is false; ` +
        'give the AppConfig ids directly or set createAppConfig: true',
    );
  }
  return { 'Fn::If': ['AppConfigCreation', value, { Ref: 'AWS::NoValue' }] };
}

function booleanOf(value, key, stage) {
  if (typeof value !== 'boolean') {
    throw new Error(`config/${stage}.yml: ${key} must be true or false (got ${JSON.stringify(value)})`);
  }
  return value;
}

const ROLE_NAME = /^[A-Za-z0-9+=,.@_-]{0,64}$/;

/**
 * All derived values of one stage. `parameters` are the defaults of the template's CloudFormation
 * parameters, as the strings CloudFormation expects.
 */
function stageValues(stageFile, stage) {
  if (stageFile === null || typeof stageFile !== 'object') {
    throw new Error(`config/${stage}.yml: must be a mapping of stage parameters`);
  }
  const reconciler = serialiseReconcilerConfig(stageFile.reconciler, stage);
  const createAppConfig = booleanOf(stageFile.createAppConfig, 'createAppConfig', stage);
  const createDataBucketUser = booleanOf(stageFile.createDataBucketUser, 'createDataBucketUser', stage);
  const dataReadRoleName = stageFile.dataReadRoleName ?? '';
  if (typeof dataReadRoleName !== 'string' || !ROLE_NAME.test(dataReadRoleName)) {
    throw new Error(
      `config/${stage}.yml: dataReadRoleName must be an IAM role name or '' (got ${JSON.stringify(dataReadRoleName)})`,
    );
  }
  return {
    ...reconciler,
    json: guardAppConfigTokens(reconciler.json, createAppConfig, stage),
    chartPath: chartPathOf(stageFile.chartPrefix, stage),
    parameters: {
      CreateOidcProvider: reconciler.createOidcProvider,
      UsePermissionsBoundary: reconciler.usePermissionsBoundary,
      DataReadRoleName: dataReadRoleName,
      CreateDataBucketUser: String(createDataBucketUser),
      CreateAppConfig: String(createAppConfig),
    },
  };
}

/**
 * Serverless calls this with its variable resolver; the stage file config/<stage>.yml is loaded into
 * custom.stage by serverless.yml (its own variables already resolved).
 */
module.exports = async ({ resolveVariable }) => {
  const stage = await resolveVariable('sls:stage');
  return stageValues(await resolveVariable('self:custom.stage'), stage);
};
module.exports.stageValues = stageValues;
module.exports.serialiseReconcilerConfig = serialiseReconcilerConfig;
module.exports.toCloudFormationString = toCloudFormationString;
module.exports.chartPathOf = chartPathOf;
module.exports.STACK_TOKENS = STACK_TOKENS;
