// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here are CloudFormation tokens the stack resolves
import { TemplateError } from '../../../../lib/errors';
import {
  MANAGED_POLICY_MAX_SIZE,
  permissionsCeiling,
  widen,
} from '../../../../lib/reconciler/config/boundary';
import type { Binding } from '../../../../lib/reconciler/types';

function s3Binding(name: string, bucket = '${DataBucket}'): Binding {
  return {
    name,
    namespace: 'ns',
    serviceAccount: name,
    policies: [{ template: 's3-prefix-access', params: { BucketName: bucket, Prefix: name } }],
    mode: 'irsa',
  };
}

function secretBinding(name: string): Binding {
  return {
    mode: 'irsa',
    name,
    namespace: 'ns',
    serviceAccount: name,
    policies: [
      {
        template: 'secretsmanager-read',
        params: {
          SecretArns: [
            `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${name}-with-a-long-suffix-AbCdEf`,
          ],
        },
      },
    ],
  };
}

describe('permissionsCeiling', () => {
  it('renders every binding with the per-cluster variables as wildcards, exactly', () => {
    // Act
    const { document, precision } = permissionsCeiling({ stage: 'uat', bindings: [s3Binding('agent')] });

    // Assess
    expect(precision).toBe('exact');
    expect(document.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:${AWS::Partition}:s3:::${DataBucket}',
        Condition: { StringLike: { 's3:prefix': ['agent/*/*/', 'agent/*/*/*'] } },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: 'arn:${AWS::Partition}:s3:::${DataBucket}/agent/*/*/*',
      },
    ]);
  });

  it('allows one harmless read when there is no binding: a boundary needs a statement', () => {
    const { document } = permissionsCeiling({ stage: 'uat', bindings: [] });

    expect(document.Statement).toEqual([{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }]);
  });

  it('drops Allow conditions first when the exact ceiling would not fit IAM', () => {
    // Prepare: 40 prefixes in one bucket; their ListBucket conditions differ, so they cannot merge
    const bindings = Array.from({ length: 40 }, (_, index) => s3Binding(`agent-with-a-longer-name-${index}`));

    // Act
    const { document, precision } = permissionsCeiling({ stage: 'uat', bindings });

    // Assess
    expect(precision).toBe('without-conditions');
    expect(JSON.stringify(document).length).toBeLessThanOrEqual(MANAGED_POLICY_MAX_SIZE);
    expect(JSON.stringify(document)).not.toContain('Condition');
  });

  it('widens to resource level only when conditions-free still does not fit', () => {
    // Prepare: 80 distinct secrets
    const bindings = Array.from({ length: 80 }, (_, index) => secretBinding(`agent-${index}`));

    // Act
    const { document, precision } = permissionsCeiling({ stage: 'uat', bindings });

    // Assess
    expect(precision).toBe('resource-level');
    expect(document.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:*',
      },
    ]);
  });

  it('says what to do when even the widest ceiling does not fit', () => {
    // Prepare: 400 distinct buckets cannot be widened past their bucket
    const bindings = Array.from({ length: 400 }, (_, index) =>
      s3Binding(`a${index}`, `bucket-number-${index}`),
    );

    // Act / Assess
    expect(() => permissionsCeiling({ stage: 'uat', bindings })).toThrow(TemplateError);
    expect(() => permissionsCeiling({ stage: 'uat', bindings })).toThrow(
      /name an existing boundary in permissionsBoundaryArn/,
    );
  });
});

describe('widen', () => {
  it.each([
    ['arn:aws:s3:::bucket/prefix/*/*/*', 'arn:aws:s3:::bucket/*'],
    ['arn:aws:s3:::bucket', 'arn:aws:s3:::bucket'],
    ['arn:aws:secretsmanager:eu-west-1:1:secret:name-AbC', 'arn:aws:secretsmanager:eu-west-1:1:secret:*'],
    [
      'arn:aws:appconfig:*:1:application/app/environment/env/configuration/prof',
      'arn:aws:appconfig:*:1:application/app/*',
    ],
    ['*', '*'],
  ])('widens %s to %s', (arn, widened) => {
    expect(widen(arn)).toBe(widened);
  });
});
