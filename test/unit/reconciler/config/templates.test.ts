// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here is template syntax under test, not JavaScript
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { TemplateError } from '../../../../lib/errors';
import { BUILTIN_TEMPLATES } from '../../../../lib/reconciler/config/catalog';
import {
  type BuiltinValues,
  createTemplateCatalog,
  DEFAULT_TEMPLATES_DIR,
  loadTemplateCatalog,
  renderPodIdentityTrustPolicy,
  renderPolicyTemplate,
  renderTrustPolicy,
  type TemplateCatalog,
  TRUST_POLICY_MAX_SIZE,
} from '../../../../lib/reconciler/config/templates';

const BUILTINS: BuiltinValues = {
  AccountId: '123456789012',
  Partition: 'aws',
  Region: 'eu-west-1',
  ClusterName: 'prod-eu',
  ClusterArn: 'arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu',
  Stage: 'dev',
  Namespace: 'payments',
  ServiceAccount: 'payments-api',
};
const ISSUER = 'oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';

function render(template: string, params: Record<string, string | string[]>, catalog = BUILTIN_TEMPLATES) {
  return renderPolicyTemplate(catalog, { template, binding: 'app' }, params, BUILTINS);
}

/** A catalog with one custom policy template named `custom`. */
function catalogWith(policy: unknown, trustPolicy: unknown = BUILTIN_TEMPLATES.trustPolicy): TemplateCatalog {
  return createTemplateCatalog({ trustPolicy, policies: { custom: policy } });
}

function templateError(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error('expected a TemplateError, nothing was thrown');
}

const ALLOW_ALL_ON = (resource: unknown) => ({
  Parameters: { Things: { Type: 'List', Default: [] } },
  PolicyDocument: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }],
  },
});

describe('renderTrustPolicy', () => {
  it('trusts exactly the cluster OIDC provider and the one ServiceAccount', () => {
    // Act
    const trust = renderTrustPolicy(BUILTIN_TEMPLATES, { ...BUILTINS, OidcIssuer: ISSUER });

    // Assess
    expect(trust).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ServiceAccountOnly',
          Effect: 'Allow',
          Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${ISSUER}` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${ISSUER}:sub`]: 'system:serviceaccount:payments:payments-api',
              [`${ISSUER}:aud`]: 'sts.amazonaws.com',
            },
          },
        },
      ],
    });
  });

  it('never holds a wildcard nor a StringLike condition', () => {
    // Act
    const text = JSON.stringify(
      renderTrustPolicy(BUILTIN_TEMPLATES, { ...BUILTINS, Partition: 'aws-cn', OidcIssuer: ISSUER }),
    );

    // Assess
    expect(text).not.toContain('*');
    expect(text).not.toContain('StringLike');
    expect(text).toContain('arn:aws-cn:iam::');
  });

  it('holds no wildcard and only StringEquals for any valid namespace and ServiceAccount', () => {
    const namespace = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    const serviceAccount = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10})?$/);
    fc.assert(
      fc.property(namespace, serviceAccount, (ns, sa) => {
        // Act
        const trust = renderTrustPolicy(BUILTIN_TEMPLATES, {
          ...BUILTINS,
          Namespace: ns,
          ServiceAccount: sa,
          OidcIssuer: ISSUER,
        });

        // Assess
        expect(JSON.stringify(trust)).not.toContain('*');
        expect(Object.keys(trust.Statement[0]?.Condition as object)).toEqual(['StringEquals']);
        expect(trust.Statement[0]?.Condition).toEqual({
          StringEquals: {
            [`${ISSUER}:sub`]: `system:serviceaccount:${ns}:${sa}`,
            [`${ISSUER}:aud`]: 'sts.amazonaws.com',
          },
        });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a custom trust template that would render a wildcard', () => {
    // Prepare
    const loose = structuredClone(BUILTIN_TEMPLATES.trustPolicy) as {
      Statement: { Condition: Record<string, unknown> }[];
    };
    const statement = loose.Statement[0];
    if (!statement) throw new Error('fixture has no statement');
    statement.Condition = { StringLike: { '${OidcIssuer}:sub': 'system:serviceaccount:${Namespace}:*' } };

    // Act
    const error = templateError(() =>
      renderTrustPolicy(catalogWith(ALLOW_ALL_ON('${Things}'), loose), { ...BUILTINS, OidcIssuer: ISSUER }),
    );

    // Assess
    expect(error.message).toMatch(/wildcard/);
  });
});

describe('renderPolicyTemplate', () => {
  it('limits S3 access to the bucket and the per-region, per-cluster prefix', () => {
    // Act
    const policy = render('s3-prefix-access', { BucketName: 'acme-data', Prefix: 'teams/payments' });

    // Assess
    expect(policy.Statement).toEqual([
      {
        Sid: 'ListClusterPrefix',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::acme-data',
        Condition: {
          StringLike: {
            's3:prefix': ['teams/payments/eu-west-1/prod-eu/', 'teams/payments/eu-west-1/prod-eu/*'],
          },
        },
      },
      {
        Sid: 'ObjectsUnderClusterPrefix',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: 'arn:aws:s3:::acme-data/teams/payments/eu-west-1/prod-eu/*',
      },
    ]);
  });

  it('grants listed secret ARNs and expands name prefixes into ARNs in the cluster region and account', () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-east-1:210987654321:secret:shared/db-AbCdEf';

    // Act
    const policy = render('secretsmanager-read', {
      SecretArns: [arn],
      SecretNamePrefixes: ['payments/', 'common/api-key'],
    });

    // Assess
    expect(policy.Statement[0]).toEqual({
      Sid: 'ReadListedSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: [
        arn,
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/*',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:common/api-key*',
      ],
    });
  });

  it('accepts a single string where a List parameter is expected', () => {
    const policy = render('secretsmanager-read', { SecretNamePrefixes: 'payments/' });

    expect(policy.Statement[0]?.Resource).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/*',
    ]);
  });

  it('grants AppConfig data-plane reads on one application/environment/profile', () => {
    // Act
    const policy = render('appconfig-read', {
      ApplicationId: 'abc1234',
      EnvironmentId: 'env5678',
      ConfigurationProfileId: 'prf9012',
    });

    // Assess
    expect(policy.Statement[0]).toEqual({
      Sid: 'ReadConfigurationProfile',
      Effect: 'Allow',
      Action: ['appconfig:StartConfigurationSession', 'appconfig:GetLatestConfiguration'],
      Resource:
        'arn:aws:appconfig:eu-west-1:123456789012:application/abc1234/environment/env5678/configuration/prf9012',
    });
  });

  it('turns a whole-string List variable into the JSON array itself', () => {
    const policy = render('custom', { Things: ['a', 'b'] }, catalogWith(ALLOW_ALL_ON('${Things}')));

    expect(policy.Statement[0]?.Resource).toEqual(['a', 'b']);
  });

  it("leaves IAM's own policy variables alone", () => {
    // Prepare
    const catalog = catalogWith(ALLOW_ALL_ON(['arn:aws:s3:::b/${aws:username}/*', '${Things}']));

    // Act
    const policy = render('custom', { Things: ['x'] }, catalog);

    // Assess
    expect(policy.Statement[0]?.Resource).toEqual(['arn:aws:s3:::b/${aws:username}/*', 'x']);
  });

  it('does not expand a variable found inside a parameter value', () => {
    const policy = render('custom', { Things: ['${AccountId}'] }, catalogWith(ALLOW_ALL_ON('${Things}')));

    expect(policy.Statement[0]?.Resource).toEqual(['${AccountId}']);
  });

  describe('errors', () => {
    it.each([
      [
        'a missing required parameter',
        's3-prefix-access',
        { BucketName: 'acme-data' },
        /parameter "Prefix" is required/,
      ],
      [
        'an unknown parameter',
        's3-prefix-access',
        { BucketName: 'acme-data', Prefix: 'p', Bukcet: 'x' },
        /unknown parameter "Bukcet" \(the template declares: BucketName, Prefix, ObjectActions\)/,
      ],
      [
        'a list for a String parameter',
        's3-prefix-access',
        { BucketName: ['a', 'b'], Prefix: 'p' },
        /parameter "BucketName": expects a single string/,
      ],
      [
        'a value against the parameter pattern',
        's3-prefix-access',
        { BucketName: 'Not_A_Bucket', Prefix: 'p' },
        /parameter "BucketName": value "Not_A_Bucket" does not match/,
      ],
      [
        'a prefix with a wildcard',
        's3-prefix-access',
        { BucketName: 'acme-data', Prefix: 'p/*' },
        /parameter "Prefix": value "p\/\*"/,
      ],
      [
        'only empty lists, leaving no Resource',
        'secretsmanager-read',
        {},
        /Statement\[0\] \("ReadListedSecrets"\): Resource is empty after rendering \(empty list parameters: SecretArns, SecretNamePrefixes\)/,
      ],
      [
        'an unknown template',
        'dynamodb-everything',
        {},
        /no such template \(known: appconfig-read, s3-prefix-access/,
      ],
      [
        'a parameter named like an Object property',
        's3-prefix-access',
        { BucketName: 'acme-data', Prefix: 'p', constructor: 'x' },
        /unknown parameter "constructor"/,
      ],
    ])('names the template, binding and parameter for %s', (_case, template, params, message) => {
      // Act
      const error = templateError(() => render(template, params));

      // Assess
      expect(error.message).toContain(`template "${template}" (binding "app")`);
      expect(error.message).toMatch(message);
    });
  });
});

describe('createTemplateCatalog', () => {
  it.each([
    [
      'an unknown variable',
      ALLOW_ALL_ON(['${Things}', 'arn:${Partiton}:s3:::x']),
      /template "custom": unknown variable \$\{Partiton\}/,
    ],
    [
      'a declared parameter the document never uses',
      { ...ALLOW_ALL_ON('*'), Parameters: { Things: { Type: 'List' } } },
      /parameter Things is declared but never used/,
    ],
    [
      'a parameter that shadows a built-in variable',
      { ...ALLOW_ALL_ON('${Region}'), Parameters: { Region: { Type: 'String' } } },
      /parameter "Region": shadows the built-in variable/,
    ],
    [
      'an unknown key in the template file',
      { ...ALLOW_ALL_ON('${Things}'), Parameter: {} },
      /template "custom": .*Parameter/,
    ],
    [
      'a default that breaks its own pattern',
      {
        ...ALLOW_ALL_ON('${Things}'),
        Parameters: { Things: { Type: 'List', Pattern: '^a$', Default: ['b'] } },
      },
      /parameter "Things": value "b" does not match/,
    ],
  ])('rejects a template with %s', (_case, template, message) => {
    expect(templateError(() => catalogWith(template)).message).toMatch(message);
  });

  it('rejects a List parameter used in an object key at render time', () => {
    // Prepare
    const catalog = catalogWith({
      Parameters: { Things: { Type: 'List' } },
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { '${Things}': {} } },
        ],
      },
    });

    // Act + Assess
    expect(templateError(() => render('custom', { Things: ['a'] }, catalog)).message).toMatch(/object key/);
  });
});

describe('template files', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'irsa-templates-'));
    mkdirSync(path.join(dir, 'policies'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the bundled catalog holds exactly the files under templates/', () => {
    // Act
    const fromDisk = loadTemplateCatalog(DEFAULT_TEMPLATES_DIR);

    // Assess
    expect([...BUILTIN_TEMPLATES.policies.keys()].sort()).toEqual([...fromDisk.policies.keys()].sort());
    expect(BUILTIN_TEMPLATES.trustPolicy).toEqual(fromDisk.trustPolicy);
    for (const [name, template] of fromDisk.policies) {
      expect(BUILTIN_TEMPLATES.policies.get(name)?.document).toEqual(template.document);
    }
  });

  it('reports a template file that is not valid JSON by its path', () => {
    // Prepare
    writeFileSync(path.join(dir, 'trust-policy.json'), JSON.stringify(BUILTIN_TEMPLATES.trustPolicy));
    writeFileSync(path.join(dir, 'policies', 'broken.json'), '{ "PolicyDocument": { ');

    // Act
    const error = templateError(() => loadTemplateCatalog(dir));

    // Assess
    expect(error.message).toContain(path.join(dir, 'policies', 'broken.json'));
    expect(error.message).toMatch(/not valid JSON/);
  });
});

describe('rendering for pod-identity (one role for the fleet)', () => {
  const POD = { mode: { kind: 'pod-identity' as const, regions: ['eu-west-1', 'us-east-1'] } };

  function renderPod(
    template: string,
    params: Record<string, string | string[]>,
    catalog = BUILTIN_TEMPLATES,
  ) {
    return renderPolicyTemplate(catalog, { template, binding: 'app' }, params, BUILTINS, POD);
  }

  it('scopes S3 per cluster with the session tags, one statement per region pinned to that region', () => {
    // Act
    const document = renderPod('s3-prefix-access', { BucketName: 'acme-data', Prefix: 'otel' });

    // Assess
    expect(document.Statement).toEqual([
      {
        Sid: 'ListClusterPrefixEuWest1',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::acme-data',
        Condition: {
          StringLike: {
            's3:prefix': [
              'otel/eu-west-1/${aws:PrincipalTag/eks-cluster-name}/',
              'otel/eu-west-1/${aws:PrincipalTag/eks-cluster-name}/*',
            ],
            'aws:PrincipalTag/eks-cluster-arn': 'arn:aws:eks:eu-west-1:123456789012:cluster/*',
          },
        },
      },
      expect.objectContaining({ Sid: 'ListClusterPrefixUsEast1' }),
      {
        Sid: 'ObjectsUnderClusterPrefixEuWest1',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: 'arn:aws:s3:::acme-data/otel/eu-west-1/${aws:PrincipalTag/eks-cluster-name}/*',
        Condition: {
          StringLike: { 'aws:PrincipalTag/eks-cluster-arn': 'arn:aws:eks:eu-west-1:123456789012:cluster/*' },
        },
      },
      expect.objectContaining({
        Sid: 'ObjectsUnderClusterPrefixUsEast1',
        Resource: 'arn:aws:s3:::acme-data/otel/us-east-1/${aws:PrincipalTag/eks-cluster-name}/*',
      }),
    ]);
    expect(JSON.stringify(document)).not.toContain('prod-eu');
  });

  it('renders ${ClusterName} and ${ClusterArn} as session tags and leaves a statement without ${Region} whole', () => {
    // Prepare
    const catalog = catalogWith({
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Own', Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '${ClusterArn}' },
          {
            Effect: 'Allow',
            Action: 'ssm:GetParameter',
            Resource: 'arn:${Partition}:ssm:*:${AccountId}:parameter/${Stage}/${ClusterName}/*',
          },
        ],
      },
    });

    // Act
    const irsa = renderPolicyTemplate(catalog, { template: 'custom', binding: 'app' }, {}, BUILTINS);
    const pod = renderPod('custom', {}, catalog);

    // Assess
    expect(irsa.Statement.map((statement) => statement.Resource)).toEqual([
      'arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu',
      'arn:aws:ssm:*:123456789012:parameter/dev/prod-eu/*',
    ]);
    expect(pod.Statement).toEqual([
      {
        Sid: 'Own',
        Effect: 'Allow',
        Action: 'eks:DescribeCluster',
        Resource: '${aws:PrincipalTag/eks-cluster-arn}',
      },
      {
        Effect: 'Allow',
        Action: 'ssm:GetParameter',
        Resource: 'arn:aws:ssm:*:123456789012:parameter/dev/${aws:PrincipalTag/eks-cluster-name}/*',
      },
    ]);
  });

  it.each([
    [
      '${Region} in an object key',
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringEquals: { '${Region}': 'x' } },
      },
      /\$\{Region\} in an object key cannot be rendered for pod-identity/,
    ],
    [
      'a statement that already conditions on the cluster ARN tag',
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::b/${Region}/*',
        Condition: { StringEquals: { 'aws:PrincipalTag/eks-cluster-arn': 'x' } },
      },
      /already conditions on aws:PrincipalTag\/eks-cluster-arn/,
    ],
  ])('refuses a template with %s, naming why', (_, statement, message) => {
    const catalog = catalogWith({ PolicyDocument: { Version: '2012-10-17', Statement: [statement] } });
    expect(templateError(() => renderPod('custom', {}, catalog)).message).toMatch(message);
  });
});

describe('the Pod Identity trust policy', () => {
  const VALUES = {
    AccountId: '123456789012',
    Partition: 'aws',
    Stage: 'dev',
    Namespace: 'payments',
    ServiceAccount: 'payments-api',
  };
  const arn = (n: number) =>
    `arn:aws:eks:eu-west-1:123456789012:cluster/cluster-${String(n).padStart(3, '0')}`;

  it('trusts pods.eks.amazonaws.com for this account, the ServiceAccount and the selected clusters, exactly', () => {
    const { document, pinned } = renderPodIdentityTrustPolicy(BUILTIN_TEMPLATES, {
      ...VALUES,
      ClusterArns: [arn(2), arn(1), arn(2)],
    });
    expect(pinned).toBe(true);
    expect(document).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'PodIdentityServiceAccountOnly',
          Effect: 'Allow',
          Principal: { Service: 'pods.eks.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: {
            StringEquals: {
              'aws:SourceAccount': '123456789012',
              'aws:RequestTag/kubernetes-namespace': 'payments',
              'aws:RequestTag/kubernetes-service-account': 'payments-api',
              'aws:RequestTag/eks-cluster-arn': [arn(1), arn(2)],
            },
          },
        },
      ],
    });
  });

  it.each([
    ['no cluster is selected', 0],
    ['the cluster ARNs do not fit the trust policy limit', 40],
  ])('leaves the cluster pin out when %s, keeping account and ServiceAccount', (_, clusters) => {
    const { document, pinned } = renderPodIdentityTrustPolicy(BUILTIN_TEMPLATES, {
      ...VALUES,
      ClusterArns: Array.from({ length: clusters }, (_, n) => arn(n)),
    });
    expect(pinned).toBe(false);
    expect(JSON.stringify(document).length).toBeLessThanOrEqual(TRUST_POLICY_MAX_SIZE);
    expect(document.Statement[0]?.Condition).toEqual({
      StringEquals: {
        'aws:SourceAccount': '123456789012',
        'aws:RequestTag/kubernetes-namespace': 'payments',
        'aws:RequestTag/kubernetes-service-account': 'payments-api',
      },
    });
  });

  it('pins as many clusters as fit: 20 clusters of 60-character ARNs', () => {
    const arns = Array.from({ length: 20 }, (_, n) => arn(n));
    expect(renderPodIdentityTrustPolicy(BUILTIN_TEMPLATES, { ...VALUES, ClusterArns: arns }).pinned).toBe(
      true,
    );
  });
});

describe('optional statements (OnlyWith) and the KMS key parameter', () => {
  const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  it.each([
    ['secretsmanager-read', { SecretNamePrefixes: ['app/'] }, 'secretsmanager.eu-west-1.amazonaws.com'],
    [
      'appconfig-read',
      { ApplicationId: 'abc1234', EnvironmentId: 'env1234', ConfigurationProfileId: 'prf1234' },
      'appconfig.eu-west-1.amazonaws.com',
    ],
  ])(
    '%s grants kms:Decrypt on the given keys only through its service in the region',
    (template, params, via) => {
      const without = render(template, params);
      const withKey = render(template, { ...params, KmsKeyArns: [KEY] });
      expect(JSON.stringify(without)).not.toContain('kms:');
      expect(withKey.Statement.at(-1)).toEqual({
        Sid: expect.stringMatching(/^Decrypt/),
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: [KEY],
        Condition: { StringLike: { 'kms:ViaService': via } },
      });
    },
  );

  it('refuses a key that is not a KMS key ARN', () => {
    expect(
      templateError(() =>
        render('secretsmanager-read', { SecretNamePrefixes: ['a/'], KmsKeyArns: ['alias/x'] }),
      ).message,
    ).toMatch(/parameter "KmsKeyArns": value "alias\/x" does not match/);
  });

  it.each([
    ['a Sid no statement has', { Nope: 'Keys' }, /OnlyWith names no statement with Sid "Nope"/],
    ['a String parameter', { Grant: 'Bucket' }, /OnlyWith.Grant must name a List parameter/],
  ])('refuses an OnlyWith naming %s', (_, onlyWith, message) => {
    const error = templateError(() =>
      catalogWith({
        Parameters: { Keys: { Type: 'List', Default: [] }, Bucket: { Type: 'String' } },
        OnlyWith: onlyWith,
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'Grant', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::${Bucket}/*' },
            { Sid: 'Decrypt', Effect: 'Allow', Action: 'kms:Decrypt', Resource: '${Keys}' },
          ],
        },
      }),
    );
    expect(error.message).toMatch(message);
  });
});
