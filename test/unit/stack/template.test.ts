// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here is CloudFormation Fn::Sub syntax under test, not JavaScript
import { createMetrics } from '../../../lib/observability/metrics';
import { parseReconcilerConfig } from '../../../lib/reconciler/config/schema';
import { recordRunMetrics } from '../../../lib/reconciler/report';
import {
  bucketFindings,
  type CfnResource,
  type CfnTemplate,
  dependsOn,
  iamFindings,
  identityPolicyStatements,
  readPackagedTemplate,
  resolveTokens,
  resourcesOfType,
} from '../../support/stack-template';

/**
 * The template `npm run package` writes (.serverless/cloudformation-template-update-stack.json, stage uat
 * in scripts/test.sh). The checkers are tested first on small bad templates, so a pass means something.
 */

function role(statements: unknown[]): CfnTemplate {
  return {
    Resources: {
      FnRole: {
        Type: 'AWS::IAM::Role',
        Properties: { Policies: [{ PolicyName: 'inline', PolicyDocument: { Statement: statements } }] },
      },
    },
  };
}

const TLS_DENY = {
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, { 'Fn::Sub': '${Bucket.Arn}/*' }],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};

function bucket(properties: Record<string, unknown>, statements: unknown[]): CfnTemplate {
  return {
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket', Properties: properties },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: { Bucket: { Ref: 'Bucket' }, PolicyDocument: { Statement: statements } },
      },
    },
  };
}

const GOOD_BUCKET = {
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
  },
  PublicAccessBlockConfiguration: {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  },
};

describe('the IAM checker', () => {
  it.each([
    ['Action "*"', { Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b' }, /every action \(\*\)/],
    [
      'iam:*',
      { Effect: 'Allow', Action: ['iam:*'], Resource: 'arn:aws:iam::1:role/x' },
      /every action \(iam:\*\)/,
    ],
    ['s3:*', { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*' }, /every action \(s3:\*\)/],
    [
      'a write wildcard',
      { Effect: 'Allow', Action: 'iam:Create*', Resource: 'arn:aws:iam::1:role/x' },
      /wildcard/,
    ],
    [
      'a write action on "*"',
      { Effect: 'Allow', Action: 'iam:CreateRole', Resource: '*' },
      /iam:CreateRole on/,
    ],
    ['NotAction in an Allow', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }, /NotAction/],
  ])('flags %s', (_name, statement, finding) => {
    // Act
    const findings = iamFindings(role([statement]));
    // Assess
    expect(findings).toEqual(expect.arrayContaining([expect.stringMatching(finding)]));
  });

  it('looks into both branches of an Fn::If and into managed policies', () => {
    // Prepare
    const template: CfnTemplate = {
      Resources: {
        Managed: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: {
            PolicyDocument: {
              Statement: [
                {
                  'Fn::If': [
                    'Cond',
                    { Ref: 'AWS::NoValue' },
                    { Effect: 'Allow', Action: 'iam:*', Resource: '*' },
                  ],
                },
              ],
            },
          },
        },
      },
    };
    // Act
    const findings = iamFindings(template);
    // Assess
    expect(findings).toContain('Managed: Allow of every action (iam:*)');
  });

  it('accepts list and read actions on "*", scoped writes and denies', () => {
    // Prepare
    const template = role([
      { Effect: 'Allow', Action: ['eks:ListClusters', 'sts:GetCallerIdentity'], Resource: '*' },
      { Effect: 'Allow', Action: 'iam:CreateRole', Resource: 'arn:aws:iam::1:role/irsa-reconciler/uat/*' },
      { Effect: 'Deny', Action: '*', Resource: '*' },
    ]);
    // Act / Assess
    expect(iamFindings(template)).toEqual([]);
  });
});

describe('the bucket checker', () => {
  it('accepts an encrypted, private bucket whose policy denies non-TLS access', () => {
    expect(bucketFindings(bucket(GOOD_BUCKET, [TLS_DENY]))).toEqual([]);
  });

  it('flags a bucket without default encryption', () => {
    const { BucketEncryption: _omitted, ...properties } = GOOD_BUCKET;
    expect(bucketFindings(bucket(properties, [TLS_DENY]))).toEqual(['Bucket: no default encryption']);
  });

  it('flags a bucket with one Block Public Access setting off', () => {
    // Prepare
    const properties = {
      ...GOOD_BUCKET,
      PublicAccessBlockConfiguration: {
        ...GOOD_BUCKET.PublicAccessBlockConfiguration,
        RestrictPublicBuckets: false,
      },
    };
    // Act / Assess
    expect(bucketFindings(bucket(properties, [TLS_DENY]))).toEqual([
      'Bucket: Block Public Access off (RestrictPublicBuckets)',
    ]);
  });

  it('flags a bucket without TLS enforcement, or with it on the objects only', () => {
    const objectsOnly = { ...TLS_DENY, Resource: { 'Fn::Sub': '${Bucket.Arn}/*' } };
    const allowOnly = { ...TLS_DENY, Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::1:root' } };
    for (const statements of [[], [objectsOnly], [allowOnly]]) {
      expect(bucketFindings(bucket(GOOD_BUCKET, statements))).toEqual([
        'Bucket: no bucket policy denying aws:SecureTransport=false',
      ]);
    }
  });

  it('flags a bucket policy that allows a public principal', () => {
    // Prepare
    const publicRead = { Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: 'x/*' };
    // Act / Assess
    expect(bucketFindings(bucket(GOOD_BUCKET, [TLS_DENY, publicRead]))).toEqual([
      'Bucket: bucket policy allows a public principal',
    ]);
  });
});

describe('the packaged template', () => {
  let template: CfnTemplate;
  const functions = [
    'ReconcileLambdaFunction',
    'CustomResourceLambdaFunction',
    'ReindexLambdaFunction',
    'ClusterEventsLambdaFunction',
  ];

  beforeAll(() => {
    template = readPackagedTemplate();
  });

  function resource(id: string): CfnResource {
    const found = template.Resources[id];
    if (!found) throw new Error(`the template has no resource ${id}`);
    return found;
  }

  function props(id: string): Record<string, unknown> {
    return resource(id).Properties ?? {};
  }

  function environment(id: string): Record<string, unknown> {
    return (props(id).Environment as { Variables: Record<string, unknown> }).Variables;
  }

  it('passes the least-privilege checks', () => {
    expect(identityPolicyStatements(template).length).toBeGreaterThan(10);
    expect(iamFindings(template)).toEqual([]);
  });

  it('passes the bucket checks, for every bucket', () => {
    expect(
      resourcesOfType(template, 'AWS::S3::Bucket')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['ChartBucket', 'DataBucket', 'ServerlessDeploymentBucket']);
    expect(bucketFindings(template)).toEqual([]);
  });

  it("gives the indexer the stage's chartIndexerMemoryMb (1024 MB when unset, as in the uat stage)", () => {
    expect(props('ReindexLambdaFunction').MemorySize).toBe(1024);
  });

  it('runs every function on Node.js 24 on arm64, with its own role and a log group with retention', () => {
    const roles = new Set<string>();
    for (const id of functions) {
      expect(props(id)).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      roles.add(JSON.stringify(props(id).Role));
      const logGroup = id.replace('LambdaFunction', 'LogGroup');
      expect(props(logGroup)).toMatchObject({
        LogGroupName: `/aws/lambda/${String(props(id).FunctionName)}`,
        RetentionInDays: expect.any(Number),
      });
      expect(dependsOn(resource(id))).toContain(logGroup);
    }
    expect(roles.size).toBe(functions.length);
    expect(resourcesOfType(template, 'AWS::IAM::Role').map(([id]) => id)).not.toContain(
      'IamRoleLambdaExecution',
    );
  });

  it('keeps the run lease in an encrypted table that only the three reconciling functions may use, for its one item', () => {
    expect(props('RunLeaseTable')).toMatchObject({
      TableName: 'irsa-reconciler-uat-run-lease',
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
    for (const fn of [
      'ReconcileLambdaFunction',
      'CustomResourceLambdaFunction',
      'ClusterEventsLambdaFunction',
    ]) {
      expect(
        (props(fn).Environment as { Variables: Record<string, unknown> }).Variables.RUN_LEASE_TABLE,
      ).toBe('irsa-reconciler-uat-run-lease');
    }
    const holders = resourcesOfType(template, 'AWS::IAM::Role')
      .filter(([, role]) =>
        JSON.stringify(role.Properties?.ManagedPolicyArns ?? []).includes('RunLeasePolicy'),
      )
      .map(([id]) => id)
      .sort();
    expect(holders).toEqual(['ClusterEventsRole', 'CustomResourceRole', 'ReconcileRole']);
  });

  it('runs each reconciling function at most once at a time', () => {
    expect(props('ReconcileLambdaFunction').ReservedConcurrentExecutions).toBe(1);
    expect(props('CustomResourceLambdaFunction').ReservedConcurrentExecutions).toBe(1);
  });

  it("takes the other regions' forwarded calls on a bus of its own, put there by a role EventBridge alone may assume", () => {
    expect(props('ClusterEventsForwardedRule')).toMatchObject({
      EventBusName: { Ref: 'ClusterEventsBus' },
      State: 'ENABLED',
      EventPattern: props('ClusterEventsRule').EventPattern,
      Targets: [{ Arn: { 'Fn::GetAtt': ['ClusterEventsQueue', 'Arn'] } }],
    });
    expect(props('ClusterEventsForwarderRole')).toMatchObject({
      Path: '/irsa-reconciler-service/uat/',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Sub':
                    'arn:${AWS::Partition}:events:*:${AWS::AccountId}:rule/irsa-reconciler-uat-eks-forward',
                },
              },
            },
          },
        ],
      },
      Policies: [
        {
          PolicyDocument: {
            Statement: [
              {
                Effect: 'Allow',
                Action: 'events:PutEvents',
                Resource: { 'Fn::GetAtt': ['ClusterEventsBus', 'Arn'] },
              },
            ],
          },
        },
      ],
    });
  });

  it("sends EKS's CreateCluster and DeleteCluster calls to the cluster-events queue, only from that rule, over TLS", () => {
    expect(props('ClusterEventsRule')).toMatchObject({
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.eks'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['eks.amazonaws.com'], eventName: ['CreateCluster', 'DeleteCluster'] },
      },
      Targets: [{ Arn: { 'Fn::GetAtt': ['ClusterEventsQueue', 'Arn'] } }],
    });
    const statements = (props('ClusterEventsQueuePolicy').PolicyDocument as { Statement: unknown[] })
      .Statement;
    expect(statements).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: {
          ArnEquals: {
            'aws:SourceArn': [
              { 'Fn::GetAtt': ['ClusterEventsRule', 'Arn'] },
              { 'Fn::GetAtt': ['ClusterEventsForwardedRule', 'Arn'] },
            ],
          },
        },
      }),
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
    expect(props('ClusterEventsQueue')).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['ClusterEventsDeadLetterQueue', 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    expect(props('ClusterEventsLambdaFunction')).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Timeout: 300,
    });
    expect(props('ClusterEventsDeadLetterAlarm')).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
  });

  it('schedules the reconciler every two hours', () => {
    // Act
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(([id]) => id === 'ReconcileSchedule');
    // Assess
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] ?? [];
    expect(rule?.Properties).toMatchObject({
      ScheduleExpression: 'rate(2 hours)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': ['ReconcileLambdaFunction', 'Arn'] } }],
    });
    expect(props('ReconcileSchedulePermission')).toMatchObject({
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['ReconcileSchedule', 'Arn'] },
    });
  });

  it('deletes the schedule and the scheduled function before the custom resource tears down', () => {
    // CloudFormation deletes a resource before what it depends on.
    expect(dependsOn(resource('ReconcileSchedule'))).toContain('IrsaReconciler');
    expect(dependsOn(resource('ReconcileLambdaFunction'))).toContain('IrsaReconciler');
    expect(dependsOn(resource('IrsaReconciler'))).toEqual([]);
  });

  it('writes the configuration to AppConfig once, and points both reconciling functions at that version', () => {
    // Prepare
    const customResource = resource('IrsaReconciler');
    const version = { 'Fn::GetAtt': ['ReconcilerConfigVersion', 'VersionNumber'] };
    // Assess
    expect(customResource.Type).toBe('Custom::IrsaReconciler');
    expect(customResource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': ['CustomResourceLambdaFunction', 'Arn'] },
      ServiceTimeout: 900,
      ConfigVersion: version,
    });
    for (const id of ['ReconcileLambdaFunction', 'CustomResourceLambdaFunction']) {
      expect(environment(id)).toMatchObject({
        CONFIG_APPLICATION_ID: { 'Fn::GetAtt': ['ReconcilerConfigApplication', 'ApplicationId'] },
        CONFIG_PROFILE_ID: { 'Fn::GetAtt': ['ReconcilerConfigProfile', 'ConfigurationProfileId'] },
        CONFIG_VERSION: version,
      });
      expect(environment(id)).not.toHaveProperty('RECONCILER_CONFIG');
    }
    expect(environment('CustomResourceLambdaFunction').STACK_ID).toEqual({ Ref: 'AWS::StackId' });
    expect(props('ReconcilerConfigVersion')).toMatchObject({ ContentType: 'application/json' });
    expect(environment('ReconcileLambdaFunction').STAGE).toBe(
      environment('CustomResourceLambdaFunction').STAGE,
    );
  });

  it('carries a configuration the reconciler accepts, with the role path and boundary the IAM policy is scoped to', () => {
    // Prepare: resolve the CloudFormation tokens as a deploy would.
    const text = resolveTokens(props('ReconcilerConfigVersion').Content);
    const stage = String(environment('ReconcileLambdaFunction').STAGE);
    // Act
    const config = parseReconcilerConfig(JSON.parse(text), { stage, deploymentRegion: 'eu-west-1' });
    // Assess
    const policy = JSON.stringify(props('ReconcilePolicy'));
    expect(config.rolePath).toBe(`/irsa-reconciler/${stage}/`);
    expect(policy).toContain(`:role${config.rolePath}${config.roleNamePrefix}*`);
    expect(config.permissionsBoundaryArn).toBe(resolveTokens({ 'Fn::Sub': '${WorkloadBoundary}' }));
    expect(text).not.toMatch(/\$\{/);
  });

  it('limits the IAM writes of the reconcilers to bounded, owned roles under their path and name prefix', () => {
    // Prepare
    const statements = identityPolicyStatements(template).filter(
      ({ where, statement }) => where === 'ReconcilePolicy' && statement.Effect === 'Allow',
    );
    const iamWrites = statements.filter(({ statement }) =>
      [statement.Action]
        .flat()
        .some((action) => /^iam:(Create|Delete|Update|Put|Tag|Untag|Detach|Attach)/.test(String(action))),
    );
    // Assess
    expect(iamWrites.length).toBeGreaterThan(0);
    for (const { statement } of iamWrites) {
      const resourceText = JSON.stringify(statement.Resource);
      const oidc = [statement.Action].flat().includes('iam:CreateOpenIDConnectProvider');
      expect(resourceText).toMatch(
        oidc
          ? /:oidc-provider\/oidc\.eks\.\*"/
          : /arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:role\/irsa-reconciler\/[a-z]+\/irsa-\*"/,
      );
      if (!oidc) expect(JSON.stringify(statement.Condition)).toContain('irsa-reconciler/managed-by');
    }
    const document = props('ReconcilePolicy').PolicyDocument as { Statement: unknown[] };
    const oidcStatement = document.Statement.find((statement) =>
      JSON.stringify(statement).includes('iam:CreateOpenIDConnectProvider'),
    );
    expect(oidcStatement).toMatchObject({
      'Fn::If': ['OidcProviderCreation', expect.anything(), { Ref: 'AWS::NoValue' }],
    });
    expect(template.Conditions?.OidcProviderCreation).toEqual({
      'Fn::Equals': [{ Ref: 'CreateOidcProvider' }, 'true'],
    });
  });

  it('keeps the execution roles on a path no reconciler statement reaches, and denies it besides', () => {
    for (const id of ['ReconcileRole', 'CustomResourceRole', 'ReindexRole']) {
      expect(props(id).Path).toMatch(/^\/irsa-reconciler-functions\/[a-z]+\/$/);
    }
    const deny = identityPolicyStatements(template).find(
      ({ where, statement }) => where === 'ReconcilePolicy' && statement.Sid === 'DenyFunctionRoles',
    );
    expect(deny?.statement).toMatchObject({ Effect: 'Deny', Action: ['iam:*', 'sts:*'] });
  });

  it('limits the indexer to its bucket and prefix, and ECR to its repository prefix (uat publishes charts there)', () => {
    // Prepare
    const statements = identityPolicyStatements(template).filter(({ where }) =>
      where.startsWith('ReindexRole/'),
    );
    const s3 = statements.filter(({ statement }) => String([statement.Action].flat()[0]).startsWith('s3:'));
    const ecr = statements.filter(({ statement }) => String([statement.Action].flat()[0]).startsWith('ecr:'));
    // Assess
    expect(ecr.map(({ statement }) => statement.Resource)).toEqual([
      '*',
      { 'Fn::Sub': 'arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/helm/*' },
    ]);
    expect(ecr[0]?.statement.Action).toBe('ecr:GetAuthorizationToken');
    expect(
      statements
        .flatMap(({ statement }) => [statement.Action].flat())
        .filter((action) => !String(action).startsWith('ecr:'))
        .sort(),
    ).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'sqs:SendMessage',
    ]);
    for (const { statement } of s3) {
      expect(JSON.stringify(statement.Resource)).toMatch(
        /s3:::irsa-reconciler-[a-z]+-charts-\$\{AWS::AccountId\}/,
      );
    }
    const failures = statements.find(({ statement }) => statement.Action === 'sqs:SendMessage');
    expect(failures?.statement.Resource).toEqual({ 'Fn::GetAtt': ['ReindexFailureQueue', 'Arn'] });
    expect(props('ReindexLambdaEvConf').DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': ['ReindexFailureQueue', 'Arn'] } },
    });
    const list = s3.find(({ statement }) => statement.Action === 's3:ListBucket');
    expect(list?.statement.Condition).toEqual({ StringLike: { 's3:prefix': 'charts/*' } });
  });

  it('notifies the indexer of chart uploads and deletions without a dependency cycle', () => {
    // Prepare
    const chartBucket = resource('ChartBucket');
    const notification = chartBucket.Properties?.NotificationConfiguration as {
      LambdaConfigurations: { Event: string; Function: unknown; Filter: unknown }[];
    };
    // Assess
    expect(notification.LambdaConfigurations.map(({ Event }) => Event).sort()).toEqual([
      's3:ObjectCreated:*',
      's3:ObjectRemoved:*',
    ]);
    for (const configuration of notification.LambdaConfigurations) {
      expect(configuration.Function).toEqual({ 'Fn::GetAtt': ['ReindexLambdaFunction', 'Arn'] });
      expect(configuration.Filter).toEqual({
        S3Key: {
          Rules: [
            { Name: 'prefix', Value: 'charts/' },
            { Name: 'suffix', Value: '.tgz' },
          ],
        },
      });
    }
    expect(dependsOn(chartBucket)).toContain('ReindexChartBucketPermission');
    // The permission, the function and its role name the bucket; none refers to the resource.
    for (const id of ['ReindexChartBucketPermission', 'ReindexLambdaFunction', 'ReindexRole']) {
      expect(JSON.stringify(resource(id))).not.toMatch(
        /"(Ref|Fn::GetAtt)":\s*\[?"ChartBucket"|\$\{ChartBucket[}.]/,
      );
    }
    expect(environment('ReindexLambdaFunction')).toMatchObject({
      CHART_BUCKET: { 'Fn::Sub': 'irsa-reconciler-uat-charts-${AWS::AccountId}' },
      CHART_PREFIX: 'charts/',
    });
  });

  it('keeps chart versions, enforces bucket ownership, and retains both buckets on stack delete', () => {
    expect(props('ChartBucket')).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(resource('ChartBucket').DeletionPolicy).toBe('Retain');
    expect(resource('DataBucket').DeletionPolicy).toBe('Retain');
  });

  it('names the data bucket with the account id, encrypts it with AES-256, grants optional reads', () => {
    // Prepare
    const read = resource('DataBucketReadPolicy');
    // Assess
    expect(props('DataBucket').BucketName).toEqual({
      'Fn::Sub': 'irsa-reconciler-uat-data-${AWS::AccountId}',
    });
    expect(JSON.stringify(props('DataBucket').BucketEncryption)).toContain('"AES256"');
    expect(read.Condition).toBe('HasDataReadRole');
    expect(read.Properties?.Roles).toEqual([{ Ref: 'DataReadRoleName' }]);
    expect(JSON.stringify(read.Properties?.PolicyDocument)).toMatch(/s3:ListBucket[\s\S]*s3:GetObject/);
  });

  it('creates the data bucket user only on request and never an access key or a secret value', () => {
    expect(resource('DataBucketUser').Condition).toBe('DataBucketUserCreation');
    expect(template.Parameters?.CreateDataBucketUser?.Default).toBe('false');
    const types = Object.values(template.Resources).map(({ Type }) => Type);
    expect(types).not.toContain('AWS::IAM::AccessKey');
    expect(types).not.toContain('AWS::SecretsManager::Secret');
    expect(JSON.stringify(template)).not.toMatch(/SecretString|SecretAccessKey/);
  });

  it('versions the data bucket and expires noncurrent versions, since workload roles may delete objects', () => {
    expect(props('DataBucket').VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(JSON.stringify(props('DataBucket').LifecycleConfiguration)).toContain(
      'NoncurrentVersionExpiration',
    );
  });

  it('includes the AppConfig resources of the uat stage file (createAppConfig: true)', () => {
    for (const id of ['AppConfigApplication', 'AppConfigEnvironment', 'AppConfigProfile']) {
      expect(resource(id).Type).toMatch(/^AWS::AppConfig::/);
    }
  });

  it('alarms on failed runs, blocked prunes and indexer failures, on the metrics the code really publishes', () => {
    // Prepare: what a run publishes, through the code's own metric names
    const published: Record<string, unknown>[] = [];
    const sink = createMetrics({
      namespace: 'IrsaReconciler',
      service: 'irsa-reconciler',
      dimensions: { Stage: 'uat' },
      write: (line) => published.push(JSON.parse(line)),
    });
    recordRunMetrics(sink, {
      dryRun: false,
      account: { accountId: '123456789012', partition: 'aws' },
      regions: [],
      results: [],
      skipped: [],
      drift: [],
      counts: { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, failed: 0 },
      apiCalls: {},
      failed: false,
    });
    sink.publish();
    const document = published[0] as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
    expect(published).toHaveLength(1);
    const names = document._aws.CloudWatchMetrics[0]?.Metrics.map((metric) => metric.Name);

    // Assess
    for (const [id, metric] of [
      ['ReconcileRunFailedAlarm', 'RunFailed'],
      ['ReconcilePruneBlockedAlarm', 'PruneBlocked'],
    ] as const) {
      expect(props(id)).toMatchObject({
        Namespace: 'IrsaReconciler',
        MetricName: metric,
        Dimensions: [
          { Name: 'service', Value: 'irsa-reconciler' },
          { Name: 'Stage', Value: 'uat' },
        ],
      });
      expect(names).toContain(metric);
    }
    expect(props('ReconcileErrorsAlarm')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors' });
    expect(props('ReindexFailureQueueAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ReindexFailureQueue', 'QueueName'] } }],
    });
    expect(props('ReindexTerminalFailuresAlarm')).toMatchObject({
      Namespace: 'IrsaReconciler/HelmRepository',
      MetricName: 'IndexFailuresTerminal',
    });
  });

  it('outputs the bucket names and URLs, the Helm repository URLs and the function ARNs', () => {
    expect(Object.keys(template.Outputs ?? {})).toEqual(
      expect.arrayContaining([
        'BucketName',
        'S3BucketSecureURL',
        'ChartBucketName',
        'HelmRepositoryUrl',
        'HelmRepositoryS3Url',
        'ReconcileFunctionArn',
        'CustomResourceFunctionArn',
        'ReindexFunctionArn',
        'ClusterEventsFunctionArn',
        'ClusterEventsDeadLetterQueueUrl',
        'ClusterEventsBusArn',
        'RunLeaseTableName',
      ]),
    );
    expect(template.Outputs?.ClusterEventsBusArn?.Value).toEqual({
      'Fn::GetAtt': ['ClusterEventsBus', 'Arn'],
    });
    expect(template.Outputs?.RunLeaseTableName?.Value).toEqual({ Ref: 'RunLeaseTable' });
    expect(template.Outputs?.HelmRepositoryUrl?.Value).toEqual({
      'Fn::Sub': 'https://${ChartBucket.RegionalDomainName}/charts',
    });
    expect(template.Outputs?.HelmRepositoryS3Url?.Value).toEqual({ 'Fn::Sub': 's3://${ChartBucket}/charts' });
  });
});
