/**
 * Serverless variable source: `${file(./config/stage-values.js):<key>}` (serverless.yml loads it into
 * `custom.values`). Every value the stack derives from config/<stage>.yml is computed and checked here.
 *
 * Turns the `reconciler` section of config/<stage>.yml into the JSON document the stack writes to
 * AppConfig (templates/resources/reconciler-config.yml), which both reconciling functions read; and
 * derives from the same object what the IAM policies must agree with (role path and name prefix, the
 * permissions boundary, the OIDC switch), so the configuration and the permissions cannot drift apart.
 * The configuration is validated here with the functions' own parser (lib/reconciler/config.ts, loaded
 * through tsx like esbuild.config.cjs), so a mistake fails `serverless package`, not the deployed stack.
 *
 * String values may carry CloudFormation tokens (see STACK_TOKENS); the JSON is then wrapped in
 * Fn::Sub and every other `${` is escaped, so a literal `${...}` in the configuration stays literal.
 */
const { require: requireTypeScript } = require('tsx/cjs/api');

/** A TypeScript source of the project: through the test runner's loader if it has one, else tsx. */
function requireSource(path) {
  try {
    return require(path);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    return requireTypeScript(`${path}.ts`, __filename);
  }
}

const { parseReconcilerConfig } = requireSource('../lib/reconciler/config/schema');
const { permissionsCeiling } = requireSource('../lib/reconciler/config/boundary');

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
  'WorkloadBoundary',
  'ClusterEventsBus.Arn',
  'ClusterEventsForwarderRole.Arn',
];

/** Values the tokens stand for while the configuration is validated at package time. */
const TOKEN_SAMPLES = {
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  DataBucket: 'irsa-reconciler-stage-data-123456789012',
  ChartBucket: 'irsa-reconciler-stage-charts-123456789012',
  AppConfigApplication: 'app1234',
  AppConfigEnvironment: 'env1234',
  AppConfigProfile: 'prf1234',
  WorkloadBoundary: 'arn:aws:iam::123456789012:policy/irsa-reconciler/stage/workload-boundary',
  'ClusterEventsBus.Arn':
    'arn:aws:events:eu-west-1:123456789012:event-bus/irsa-reconciler-stage-cluster-events',
  'ClusterEventsForwarderRole.Arn':
    'arn:aws:iam::123456789012:role/irsa-reconciler-service/stage/irsa-reconciler-stage-event-forwarder',
};

/** AppConfig's hosted configuration store holds documents up to 1 MB. */
const MAX_CONFIG_BYTES = 1_000_000;

const ROLE_PATH = /^\/([A-Za-z0-9+=,.@_-]+\/)*$/;
const ROLE_NAME_PREFIX_DEFAULT = 'irsa-';

/** The execution roles' path: outside every reconciler.rolePath (checked), so no Allow reaches them. */
function functionRolePathOf(stage) {
  return `/irsa-reconciler-functions/${stage}/`;
}

/** Roles the stack makes for AWS services (the event forwarder): outside every reconciler.rolePath (checked). */
function serviceRolePathOf(stage) {
  return `/irsa-reconciler-service/${stage}/`;
}

/**
 * @param {unknown} reconciler the `reconciler` section, Serverless variables already resolved
 * @param {string} stage
 * @param {string} region the stage's deployment region
 * @param {boolean} forwardEvents whether cluster events are on (the reconciler then keeps the rules
 *   forwarding them from the other scanned regions; off, it removes them)
 */
function serialiseReconcilerConfig(reconciler, stage, region = 'eu-west-1', forwardEvents = true) {
  if (reconciler === null || typeof reconciler !== 'object' || Array.isArray(reconciler)) {
    throw new Error(`config/${stage}.yml: "reconciler" must be a mapping (the reconciler configuration)`);
  }
  if ('eventForwarding' in reconciler) {
    throw new Error(
      `config/${stage}.yml: reconciler.eventForwarding is written by the stack (set clusterEvents instead)`,
    );
  }
  const config = { ...reconciler };
  const rolePath = config.rolePath ?? `/irsa-reconciler/${stage}/`;
  if (typeof rolePath !== 'string' || !ROLE_PATH.test(rolePath) || rolePath === '/') {
    throw new Error(
      `config/${stage}.yml: reconciler.rolePath must be an IAM path like /irsa-reconciler/${stage}/ (got ${JSON.stringify(rolePath)})`,
    );
  }
  const functionRolePath = functionRolePathOf(stage);
  for (const [path, whose] of [
    [functionRolePath, "the execution roles' path"],
    [serviceRolePathOf(stage), "the event forwarder's path"],
  ]) {
    if (path.startsWith(rolePath) || rolePath.startsWith(path)) {
      throw new Error(
        `config/${stage}.yml: reconciler.rolePath ${rolePath} overlaps ${whose} ${path}; ` +
          "the reconciler's permissions must never reach the stack's own roles",
      );
    }
  }
  // Written out explicitly: the IAM policies are scoped to this path and name prefix.
  config.rolePath = rolePath;
  const roleNamePrefix = config.roleNamePrefix ?? ROLE_NAME_PREFIX_DEFAULT;
  config.roleNamePrefix = roleNamePrefix;
  const createOidcProvider = config.createOidcProvider ?? false;
  if (typeof createOidcProvider !== 'boolean') {
    throw new Error(`config/${stage}.yml: reconciler.createOidcProvider must be true or false`);
  }
  config.createOidcProvider = createOidcProvider;
  const named = config.permissionsBoundaryArn ?? '';
  if (typeof named !== 'string') {
    throw new Error(`config/${stage}.yml: reconciler.permissionsBoundaryArn must be a policy ARN or ''`);
  }
  // The boundary is always on: the stage's own, or the one the stack makes from the bindings.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub token
  config.permissionsBoundaryArn = named === '' ? '${WorkloadBoundary}' : named;
  config.eventForwarding = forwardEvents
    ? // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub tokens
      { busArn: '${ClusterEventsBus.Arn}', roleArn: '${ClusterEventsForwarderRole.Arn}' }
    : null;

  validate(config, stage, region);
  const text = JSON.stringify(config);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new Error(
      `config/${stage}.yml: the reconciler configuration is ${Buffer.byteLength(text)} bytes as JSON, ` +
        `over AppConfig's hosted configuration limit of ${MAX_CONFIG_BYTES}`,
    );
  }
  return {
    config,
    json: toCloudFormationString(text),
    rolePath,
    roleNamePrefix,
    functionRolePath,
    serviceRolePath: serviceRolePathOf(stage),
    createOidcProvider: String(createOidcProvider),
    // The reconciler may create add-ons only when the configuration asks it to install the agent.
    installPodIdentityAgent: String(config.podIdentity?.installAgent === true),
    publishRoleArns: String(config.publishRoleArns === true),
    permissionsBoundaryArn: named === '' ? { Ref: 'WorkloadBoundary' } : toCloudFormationString(named),
    boundaryResources: named === '' ? workloadBoundaryResources(config, stage) : {},
  };
}

/** Parses the configuration as the functions will (tokens replaced by sample values); names the field. */
function validate(config, stage, region) {
  const sample = JSON.parse(
    JSON.stringify(config).replace(/\$\{([^}]*)\}/g, (match, name) =>
      name === 'AWS::Region' ? region : (TOKEN_SAMPLES[name] ?? match),
    ),
  );
  try {
    parseReconcilerConfig(sample, { stage, deploymentRegion: region });
  } catch (error) {
    throw new Error(`config/${stage}.yml: reconciler: ${error.message}`);
  }
}

/**
 * The stack's permissions boundary: the ceiling of what the stage's bindings grant (the tokens in the
 * bindings, such as ${DataBucket}, are resolved by CloudFormation).
 */
function workloadBoundaryResources(config, stage) {
  const { document, precision } = permissionsCeiling({ stage, bindings: bindingsAsWritten(config) });
  return {
    WorkloadBoundary: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: {
        ManagedPolicyName: `irsa-reconciler-${stage}-workload-boundary`,
        Path: `/irsa-reconciler/${stage}/`,
        Description: `irsa-reconciler (${stage}) - permissions boundary of every role the reconciler makes: the ceiling of the configured bindings (precision: ${precision})`,
        PolicyDocument: toCloudFormationValue(document),
      },
    },
  };
}

/** The bindings as written (tokens intact), with the parser's defaults for what they leave out. */
function bindingsAsWritten(config) {
  return (config.bindings ?? []).map((binding) => ({
    ...binding,
    policies: (binding.policies ?? []).map((policy) => ({
      template: policy.template,
      params: policy.params ?? {},
    })),
  }));
}

/** A JSON value whose strings may hold stack tokens, as the CloudFormation value of the whole object. */
function toCloudFormationValue(value) {
  const text = JSON.stringify(value);
  const rendered = toCloudFormationString(text);
  return typeof rendered === 'string' ? value : rendered;
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
/** chartIndexFormat: how the indexer writes index.yaml; unset means yaml. */
function chartIndexFormatOf(format, stage) {
  if (format === undefined || format === null || format === '') return 'yaml';
  if (format !== 'yaml' && format !== 'json') {
    throw new Error(
      `config/${stage}.yml: chartIndexFormat must be yaml or json (got ${JSON.stringify(format)})`,
    );
  }
  return format;
}

/**
 * chartIndexerMemoryMb: the reindex function's memory, which bounds the index it can update (README
 * "Helm repository"); unset means 1024. Lambda accepts 128 to 10240 MB.
 */
function chartIndexerMemoryMbOf(value, stage) {
  if (value === undefined || value === null || value === '') return 1024;
  if (!Number.isInteger(value) || value < 128 || value > 10240) {
    throw new Error(
      `config/${stage}.yml: chartIndexerMemoryMb must be a whole number of MB from 128 to 10240 (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

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
 * The configuration may name the stack's AppConfig resources only when the stage creates them. The
 * switch is decided at package time: the stage file is the one place it is set.
 */
function guardAppConfigTokens(value, createAppConfig, stage) {
  const text = JSON.stringify(value);
  const used = APPCONFIG_TOKENS.filter((name) => text.includes(`\${${name}}`));
  if (used.length === 0) return value;
  if (!createAppConfig) {
    throw new Error(
      `config/${stage}.yml: the reconciler configuration uses \${${used[0]}} but createAppConfig is false; ` +
        'give the AppConfig ids directly or set createAppConfig: true',
    );
  }
  return value;
}

function booleanOf(value, key, stage) {
  if (typeof value !== 'boolean') {
    throw new Error(`config/${stage}.yml: ${key} must be true or false (got ${JSON.stringify(value)})`);
  }
  return value;
}

const ROLE_NAME = /^[A-Za-z0-9+=,.@_-]{0,64}$/;
const OCI_PREFIX = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

/**
 * clusterEvents: react to EKS CreateCluster/DeleteCluster calls (on by default); `false` leaves the
 * rule disabled. maxWaitMinutes (default 30): how long a new cluster may take to turn ACTIVE.
 */
function clusterEventsOf(value, stage) {
  const where = `config/${stage}.yml: clusterEvents`;
  if (value === false) return { ruleState: 'DISABLED', maxWaitMinutes: '30' };
  if (value === undefined || value === null || value === true)
    return { ruleState: 'ENABLED', maxWaitMinutes: '30' };
  if (typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${where} must be true, false or { maxWaitMinutes }`);
  const unknown = Object.keys(value).filter((key) => key !== 'maxWaitMinutes');
  if (unknown.length > 0) throw new Error(`${where}.${unknown[0]}: unknown field (maxWaitMinutes)`);
  const minutes = value.maxWaitMinutes ?? 30;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 720) {
    throw new Error(
      `${where}.maxWaitMinutes must be a whole number of minutes from 1 to 720 (got ${JSON.stringify(minutes)})`,
    );
  }
  return { ruleState: 'ENABLED', maxWaitMinutes: String(minutes) };
}

/**
 * chartOci: every chart also pushed to the account's ECR, repositories <repositoryPrefix>/<chart>
 * (default helm); deleteTags (default true) removes a version's tag with its last .tgz. Unset: off.
 */
function chartOciOf(value, stage) {
  const off = { enabled: 'false', registry: '', repositoryPrefix: 'helm', deleteTags: 'true' };
  if (value === undefined || value === null || value === false) return off;
  const where = `config/${stage}.yml: chartOci`;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${where} must be a mapping { repositoryPrefix?, deleteTags? }`);
  const unknown = Object.keys(value).filter((key) => key !== 'repositoryPrefix' && key !== 'deleteTags');
  if (unknown.length > 0)
    throw new Error(`${where}.${unknown[0]}: unknown field (repositoryPrefix, deleteTags)`);
  const repositoryPrefix = value.repositoryPrefix ?? 'helm';
  if (typeof repositoryPrefix !== 'string' || !OCI_PREFIX.test(repositoryPrefix)) {
    throw new Error(
      `${where}.repositoryPrefix must be an ECR repository path such as helm (got ${JSON.stringify(repositoryPrefix)})`,
    );
  }
  const deleteTags = value.deleteTags ?? true;
  if (typeof deleteTags !== 'boolean') throw new Error(`${where}.deleteTags must be true or false`);
  return {
    enabled: 'true',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub tokens
    registry: { 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}' },
    repositoryPrefix,
    deleteTags: String(deleteTags),
  };
}
const SECRET_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):secretsmanager:([a-z0-9-]+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]+$/;

/**
 * appConfigSecret: an AppConfig configuration profile whose location is a Secrets Manager secret, so
 * the workload reads the secret through AppConfig, with the retrieval role AppConfig needs (read of
 * that one secret, and decrypt with its key when the key is customer-managed). Needs createAppConfig.
 * Returns the CloudFormation resources to add (none without it).
 */
function appConfigSecretResources(value, createAppConfig, stage, region) {
  if (value === undefined || value === null) return {};
  const where = `config/${stage}.yml: appConfigSecret`;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${where} must be a mapping { secretArn, kmsKeyArn? }`);
  const unknown = Object.keys(value).filter((key) => key !== 'secretArn' && key !== 'kmsKeyArn');
  if (unknown.length > 0) throw new Error(`${where}.${unknown[0]}: unknown field (secretArn, kmsKeyArn)`);
  if (!createAppConfig)
    throw new Error(
      `${where} needs createAppConfig: true (the profile belongs to the stack's AppConfig application)`,
    );
  const secret = SECRET_ARN.exec(String(value.secretArn ?? ''));
  if (!secret) {
    throw new Error(
      `${where}.secretArn must be a Secrets Manager secret ARN ending in the 6-character suffix Secrets Manager adds (got ${JSON.stringify(value.secretArn)})`,
    );
  }
  if (secret[2] !== region) {
    throw new Error(
      `${where}.secretArn is in ${secret[2]}: AppConfig reads a secret of its own region, ${region}`,
    );
  }
  const keyArn = value.kmsKeyArn;
  if (keyArn !== undefined && !KMS_KEY_ARN.test(String(keyArn))) {
    throw new Error(
      `${where}.kmsKeyArn must be a KMS key ARN (arn:...:kms:<region>:<account>:key/<id>), not an alias (got ${JSON.stringify(keyArn)})`,
    );
  }
  const statements = [
    {
      Sid: 'ReadTheSecret',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: value.secretArn,
    },
  ];
  if (keyArn !== undefined) {
    statements.push({
      Sid: 'DecryptTheSecret',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArn,
      Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
    });
  }
  return {
    AppConfigSecretRetrievalRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Path: functionRolePathOf(stage),
        Description: `AppConfig reads the secret behind the agent-secret profile (irsa-reconciler ${stage})`,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'appconfig.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
        Policies: [
          { PolicyName: 'read-the-secret', PolicyDocument: { Version: '2012-10-17', Statement: statements } },
        ],
      },
    },
    AppConfigSecretProfile: {
      Type: 'AWS::AppConfig::ConfigurationProfile',
      Properties: {
        ApplicationId: { Ref: 'AppConfigApplication' },
        Name: 'agent-secret',
        Description: 'The agent secret, read through AppConfig (its location is the Secrets Manager secret)',
        // AppConfig's documented form for a secret is secretsmanager://<secret name>.
        LocationUri: `secretsmanager://${secret[4]}`,
        RetrievalRoleArn: { 'Fn::GetAtt': ['AppConfigSecretRetrievalRole', 'Arn'] },
        Type: 'AWS.Freeform',
      },
    },
  };
}

/**
 * All derived values of one stage. `parameters` are the defaults of the template's CloudFormation
 * parameters, as the strings CloudFormation expects.
 */
function stageValues(stageFile, stage) {
  if (stageFile === null || typeof stageFile !== 'object') {
    throw new Error(`config/${stage}.yml: must be a mapping of stage parameters`);
  }
  const region = typeof stageFile.region === 'string' ? stageFile.region : 'eu-west-1';
  const clusterEvents = clusterEventsOf(stageFile.clusterEvents, stage);
  const reconciler = serialiseReconcilerConfig(
    stageFile.reconciler,
    stage,
    region,
    clusterEvents.ruleState === 'ENABLED',
  );
  const createAppConfig = booleanOf(stageFile.createAppConfig, 'createAppConfig', stage);
  const createDataBucketUser = booleanOf(stageFile.createDataBucketUser, 'createDataBucketUser', stage);
  const dataReadRoleName = stageFile.dataReadRoleName ?? '';
  if (typeof dataReadRoleName !== 'string' || !ROLE_NAME.test(dataReadRoleName)) {
    throw new Error(
      `config/${stage}.yml: dataReadRoleName must be an IAM role name or '' (got ${JSON.stringify(dataReadRoleName)})`,
    );
  }
  const boundaryResources = Object.fromEntries(
    Object.entries(reconciler.boundaryResources).map(([id, resource]) => [
      id,
      {
        ...resource,
        Properties: {
          ...resource.Properties,
          PolicyDocument: guardAppConfigTokens(resource.Properties.PolicyDocument, createAppConfig, stage),
        },
      },
    ]),
  );
  return {
    ...reconciler,
    json: guardAppConfigTokens(reconciler.json, createAppConfig, stage),
    boundaryResources,
    chartPath: chartPathOf(stageFile.chartPrefix, stage),
    chartIndexFormat: chartIndexFormatOf(stageFile.chartIndexFormat, stage),
    chartIndexerMemoryMb: chartIndexerMemoryMbOf(stageFile.chartIndexerMemoryMb, stage),
    chartOci: chartOciOf(stageFile.chartOci, stage),
    clusterEvents,
    appConfigResourcesFile: createAppConfig ? 'appconfig.yml' : 'none.yml',
    appConfigSecretResources: appConfigSecretResources(
      stageFile.appConfigSecret,
      createAppConfig,
      stage,
      region,
    ),
    parameters: {
      CreateOidcProvider: reconciler.createOidcProvider,
      InstallPodIdentityAgent: reconciler.installPodIdentityAgent,
      ChartOciPublishing: chartOciOf(stageFile.chartOci, stage).enabled,
      PublishRoleArns: reconciler.publishRoleArns,
      DataReadRoleName: dataReadRoleName,
      CreateDataBucketUser: String(createDataBucketUser),
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
module.exports.chartIndexFormatOf = chartIndexFormatOf;
module.exports.chartIndexerMemoryMbOf = chartIndexerMemoryMbOf;
module.exports.appConfigSecretResources = appConfigSecretResources;
module.exports.chartOciOf = chartOciOf;
module.exports.clusterEventsOf = clusterEventsOf;
module.exports.functionRolePathOf = functionRolePathOf;
module.exports.serviceRolePathOf = serviceRolePathOf;
module.exports.STACK_TOKENS = STACK_TOKENS;
