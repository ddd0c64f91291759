// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here is CloudFormation Fn::Sub syntax under test, not JavaScript
import {
  appConfigSecretResources,
  chartIndexerMemoryMbOf,
  chartIndexFormatOf,
  chartOciOf,
  clusterEventsOf,
  stageValues,
  toCloudFormationString,
} from '../../../config/stage-values';

/** config/stage-values.js: what the stack derives from config/<stage>.yml, and what it refuses. */

function stageFile(overrides: Record<string, unknown> = {}, reconciler: Record<string, unknown> = {}) {
  return {
    region: 'eu-west-1',
    chartPrefix: 'charts/',
    dataReadRoleName: '',
    createDataBucketUser: false,
    createAppConfig: false,
    ...overrides,
    reconciler: { bindings: [], clusters: { include: ['uat-*'] }, ...reconciler },
  };
}

/** A binding like the samples': per-cluster S3 prefix in the data bucket and one secret. */
function binding(name: string, prefix = name) {
  return {
    name,
    namespace: 'cost',
    serviceAccount: name,
    policies: [
      { template: 's3-prefix-access', params: { BucketName: '${DataBucket}', Prefix: prefix } },
      {
        template: 'secretsmanager-read',
        params: { SecretArns: [`arn:aws:secretsmanager:eu-west-1:111122223333:secret:${name}-AbCdEf`] },
      },
    ],
  };
}

describe('chartIndexerMemoryMbOf', () => {
  it.each([
    [undefined, 1024],
    ['', 1024],
    [128, 128],
    [3008, 3008],
    [10240, 10240],
  ])('reads %j as %d', (value, expected) => {
    expect(chartIndexerMemoryMbOf(value, 'uat')).toBe(expected);
  });

  it.each([[64], [10241], [1024.5], ['2048']])(
    'refuses %j, naming the stage file, the key and the range',
    (value) => {
      expect(() => chartIndexerMemoryMbOf(value, 'uat')).toThrow(
        'config/uat.yml: chartIndexerMemoryMb must be a whole number of MB from 128 to 10240',
      );
    },
  );
});

describe('chartIndexFormatOf', () => {
  it.each([
    [undefined, 'yaml'],
    ['', 'yaml'],
    ['yaml', 'yaml'],
    ['json', 'json'],
  ])('reads %j as %s', (value, expected) => {
    expect(chartIndexFormatOf(value, 'uat')).toBe(expected);
  });

  it('refuses another format, naming the stage file and the key', () => {
    expect(() => chartIndexFormatOf('toml', 'uat')).toThrow(
      'config/uat.yml: chartIndexFormat must be yaml or json',
    );
  });
});

describe('toCloudFormationString', () => {
  it('leaves a string without stack tokens as it is, literal ${...} included', () => {
    expect(toCloudFormationString('{"prefix":"${Namespace}/x"}')).toBe('{"prefix":"${Namespace}/x"}');
  });

  it('wraps a string with stack tokens in Fn::Sub and escapes every other ${', () => {
    expect(toCloudFormationString('${DataBucket}:${AWS::AccountId}:${Namespace}')).toEqual({
      'Fn::Sub': '${DataBucket}:${AWS::AccountId}:${!Namespace}',
    });
  });
});

describe('stageValues', () => {
  it('writes the role path, name prefix and the stack-made boundary into the configuration', () => {
    // Act
    const values = stageValues(stageFile(), 'uat');

    // Assess
    expect(values.rolePath).toBe('/irsa-reconciler/uat/');
    expect(values.roleNamePrefix).toBe('irsa-');
    expect(values.functionRolePath).toBe('/irsa-reconciler-functions/uat/');
    expect(values.json).toEqual({
      'Fn::Sub':
        '{"bindings":[],"clusters":{"include":["uat-*"]},"rolePath":"/irsa-reconciler/uat/","roleNamePrefix":"irsa-","createOidcProvider":false,"permissionsBoundaryArn":"${WorkloadBoundary}","eventForwarding":{"busArn":"${ClusterEventsBus.Arn}","roleArn":"${ClusterEventsForwarderRole.Arn}"}}',
    });
    expect(values.permissionsBoundaryArn).toEqual({ Ref: 'WorkloadBoundary' });
    expect(Object.keys(values.boundaryResources)).toEqual(['WorkloadBoundary']);
    expect(values.chartPath).toBe('charts');
    expect(values.appConfigResourcesFile).toBe('none.yml');
    expect(values.parameters).toEqual({
      CreateOidcProvider: 'false',
      InstallPodIdentityAgent: 'false',
      ChartOciPublishing: 'false',
      PublishRoleArns: 'false',
      DataReadRoleName: '',
      CreateDataBucketUser: 'false',
    });
  });

  it('uses the boundary the stage names, and then makes none', () => {
    // Prepare
    const boundary = 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/boundary';
    // Act
    const values = stageValues(
      stageFile({}, { permissionsBoundaryArn: boundary, createOidcProvider: true }),
      'prod',
    );
    // Assess
    expect(values.parameters).toMatchObject({ CreateOidcProvider: 'true' });
    expect(values.permissionsBoundaryArn).toEqual({ 'Fn::Sub': boundary });
    expect(values.boundaryResources).toEqual({});
    expect(values.config).toMatchObject({
      permissionsBoundaryArn: boundary,
      rolePath: '/irsa-reconciler/prod/',
    });
  });

  it('makes the boundary the ceiling of the bindings: every cluster of every binding, nothing more', () => {
    // Act
    const values = stageValues(
      stageFile({}, { bindings: [binding('exporter'), binding('dashboard')] }),
      'uat',
    );

    // Assess
    const policy = values.boundaryResources.WorkloadBoundary?.Properties.PolicyDocument as {
      'Fn::Sub': string;
    };
    const document = JSON.parse(policy['Fn::Sub']) as { Statement: Record<string, unknown>[] };
    expect(document.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Condition: { StringLike: { 's3:prefix': ['exporter/*/*/', 'exporter/*/*/*'] } },
        Resource: 'arn:${AWS::Partition}:s3:::${DataBucket}',
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: [
          'arn:${AWS::Partition}:s3:::${DataBucket}/exporter/*/*/*',
          'arn:${AWS::Partition}:s3:::${DataBucket}/dashboard/*/*/*',
        ],
      },
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: [
          'arn:aws:secretsmanager:eu-west-1:111122223333:secret:exporter-AbCdEf',
          'arn:aws:secretsmanager:eu-west-1:111122223333:secret:dashboard-AbCdEf',
        ],
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Condition: { StringLike: { 's3:prefix': ['dashboard/*/*/', 'dashboard/*/*/*'] } },
        Resource: 'arn:${AWS::Partition}:s3:::${DataBucket}',
      },
    ]);
  });

  it('deploys a configuration of 50 bindings: the boundary fits IAM, the configuration AppConfig', () => {
    // Prepare
    const bindings = Array.from({ length: 50 }, (_, index) => binding(`agent-${index}`));

    // Act
    const values = stageValues(stageFile({}, { bindings }), 'uat');

    // Assess
    const policy = values.boundaryResources.WorkloadBoundary?.Properties.PolicyDocument as {
      'Fn::Sub': string;
    };
    expect(policy['Fn::Sub'].replace(/\$\{[A-Za-z:]+\}/g, 'x'.repeat(20)).length).toBeLessThanOrEqual(6144);
    expect((values.config.bindings as unknown[]).length).toBe(50);
  });

  it.each([
    [
      'AppConfig tokens without createAppConfig',
      stageFile({}, { tags: { app: '${AppConfigProfile}' } }),
      /uses \$\{AppConfigProfile\} but createAppConfig is false/,
    ],
    [
      'a role path without its trailing slash',
      stageFile({}, { rolePath: '/irsa' }),
      /reconciler\.rolePath must be an IAM path/,
    ],
    [
      "a role path over the execution roles' path",
      stageFile({}, { rolePath: '/irsa-reconciler-functions/uat/workloads/' }),
      /overlaps the execution roles' path \/irsa-reconciler-functions\/uat\//,
    ],
    [
      "a role path holding the execution roles' path",
      stageFile({}, { rolePath: '/irsa-reconciler-functions/' }),
      /overlaps the execution roles' path/,
    ],
    [
      'a configuration that selects no cluster explicitly',
      stageFile({}, { clusters: { exclude: ['x'] } }),
      /reconciler: clusters: select clusters explicitly/,
    ],
    [
      'a configuration the reconciler would refuse, naming the field',
      stageFile({}, { bindings: [{ ...binding('a'), namespace: 'Not_A_Namespace' }] }),
      /reconciler: bindings\[0\]\.namespace: /,
    ],
    [
      'a switch given as a string',
      stageFile({ createDataBucketUser: 'yes' }),
      /createDataBucketUser must be true or false/,
    ],
    [
      'a chart prefix that is not a folder',
      stageFile({ chartPrefix: 'charts' }),
      /chartPrefix must be a key prefix ending in "\/"/,
    ],
    ['an empty chart prefix', stageFile({ chartPrefix: '' }), /chartPrefix must be a key prefix/],
    [
      'a role name with a slash',
      stageFile({ dataReadRoleName: 'a/b' }),
      /dataReadRoleName must be an IAM role name/,
    ],
  ])('refuses %s, naming the stage file and key', (_name, file, message) => {
    expect(() => stageValues(file, 'uat')).toThrow(message);
    expect(() => stageValues(file, 'uat')).toThrow(/^config\/uat\.yml: /);
  });
});

describe('the Pod Identity agent switch', () => {
  it('lets the reconciler create add-ons only when its configuration asks to install the agent', () => {
    const stage = (installAgent?: boolean) =>
      stageValues(
        {
          createAppConfig: false,
          createDataBucketUser: false,
          chartPrefix: 'charts/',
          reconciler: {
            clusters: { include: ['uat-*'] },
            bindings: [],
            ...(installAgent === undefined ? {} : { podIdentity: { installAgent } }),
          },
        },
        'uat',
      ).parameters.InstallPodIdentityAgent;
    expect([stage(), stage(false), stage(true)]).toEqual(['false', 'false', 'true']);
  });
});

describe('appConfigSecretResources', () => {
  const SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:agent/key-AbCdEf';
  const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  it('adds nothing without appConfigSecret', () => {
    expect(appConfigSecretResources(undefined, true, 'uat', 'eu-west-1')).toEqual({});
  });

  it('makes the profile at secretsmanager://<name> and a role reading that secret, with its key only when given', () => {
    const without = appConfigSecretResources({ secretArn: SECRET }, true, 'uat', 'eu-west-1');
    const withKey = appConfigSecretResources({ secretArn: SECRET, kmsKeyArn: KEY }, true, 'uat', 'eu-west-1');
    expect(without.AppConfigSecretProfile?.Properties.LocationUri).toBe('secretsmanager://agent/key');
    const statements = (resources: typeof without) => {
      const policies = (resources.AppConfigSecretRetrievalRole?.Properties.Policies ?? []) as {
        PolicyDocument: { Statement: unknown[] };
      }[];
      return policies[0]?.PolicyDocument.Statement;
    };
    expect(statements(without)).toEqual([
      { Sid: 'ReadTheSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET },
    ]);
    expect(statements(withKey)?.[1]).toEqual({
      Sid: 'DecryptTheSecret',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: KEY,
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
  });

  it.each([
    ['without createAppConfig', { secretArn: SECRET }, false, /needs createAppConfig: true/],
    ['a secret ARN without its suffix', { secretArn: SECRET.slice(0, -7) }, true, /6-character suffix/],
    [
      'a secret of another region',
      { secretArn: SECRET.replace('eu-west-1', 'us-east-1') },
      true,
      /is in us-east-1: AppConfig reads a secret of its own region, eu-west-1/,
    ],
    ['a key alias', { secretArn: SECRET, kmsKeyArn: 'alias/agent' }, true, /kmsKeyArn must be a KMS key ARN/],
    ['an unknown field', { secretArn: SECRET, kms: KEY }, true, /appConfigSecret.kms: unknown field/],
  ])('refuses %s, naming the stage file', (_, value, createAppConfig, message) => {
    expect(() => appConfigSecretResources(value, createAppConfig, 'uat', 'eu-west-1')).toThrow(message);
  });
});

describe('chartOciOf', () => {
  it("is off unless the stage asks, and then names this account's ECR", () => {
    expect(chartOciOf(undefined, 'uat')).toMatchObject({ enabled: 'false', registry: '' });
    expect(chartOciOf({}, 'uat')).toEqual({
      enabled: 'true',
      registry: { 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}' },
      repositoryPrefix: 'helm',
      deleteTags: 'true',
    });
    expect(chartOciOf({ repositoryPrefix: 'platform/charts', deleteTags: false }, 'uat')).toMatchObject({
      repositoryPrefix: 'platform/charts',
      deleteTags: 'false',
    });
  });

  it.each([
    [{ repositoryPrefix: 'Helm' }, /repositoryPrefix must be an ECR repository path/],
    [{ deleteTags: 'yes' }, /deleteTags must be true or false/],
    [{ registry: 'x' }, /chartOci.registry: unknown field/],
  ])('refuses %j, naming the stage file', (value, message) => {
    expect(() => chartOciOf(value, 'uat')).toThrow(message);
  });
});

describe('clusterEventsOf', () => {
  it('is on by default, off with false, and takes a wait bound', () => {
    expect(clusterEventsOf(undefined, 'uat')).toEqual({ ruleState: 'ENABLED', maxWaitMinutes: '30' });
    expect(clusterEventsOf(false, 'uat')).toEqual({ ruleState: 'DISABLED', maxWaitMinutes: '30' });
    expect(clusterEventsOf({ maxWaitMinutes: 45 }, 'uat')).toEqual({
      ruleState: 'ENABLED',
      maxWaitMinutes: '45',
    });
  });

  it('tells the reconciler to keep the forwarding rules while on, and to remove them when off', () => {
    const forwarding = (clusterEvents: unknown) =>
      JSON.parse(
        String((stageValues(stageFile({ clusterEvents }), 'uat').json as { 'Fn::Sub': string })['Fn::Sub']),
      ).eventForwarding;
    expect(forwarding(undefined)).toEqual({
      busArn: '${ClusterEventsBus.Arn}',
      roleArn: '${ClusterEventsForwarderRole.Arn}',
    });
    expect(forwarding(false)).toBeNull();
  });

  it("refuses an eventForwarding written by hand, and a rolePath over the forwarder role's path", () => {
    expect(() => stageValues(stageFile({}, { eventForwarding: null }), 'uat')).toThrow(
      /reconciler.eventForwarding is written by the stack/,
    );
    expect(() => stageValues(stageFile({}, { rolePath: '/irsa-reconciler-service/' }), 'uat')).toThrow(
      /overlaps the event forwarder's path/,
    );
  });

  it.each([
    [{ maxWaitMinutes: 0 }, /maxWaitMinutes must be a whole number of minutes from 1 to 720/],
    [{ wait: 5 }, /clusterEvents.wait: unknown field/],
    ['on', /must be true, false or \{ maxWaitMinutes \}/],
  ])('refuses %j, naming the stage file', (value, message) => {
    expect(() => clusterEventsOf(value, 'uat')).toThrow(message);
  });
});
