import { canonicalPolicyJson, policiesEqual } from '../../../lib/reconciler/policy-compare';

const POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Read',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: ['arn:aws:s3:::b/p/*', 'arn:aws:s3:::b'],
      Condition: { StringLike: { 's3:prefix': ['p/'] } },
    },
  ],
};

describe('policiesEqual', () => {
  it.each([
    [
      'keys in another order',
      {
        Statement: [
          {
            Condition: { StringLike: { 's3:prefix': ['p/'] } },
            Resource: ['arn:aws:s3:::b/p/*', 'arn:aws:s3:::b'],
            Action: ['s3:GetObject'],
            Effect: 'Allow',
            Sid: 'Read',
          },
        ],
        Version: '2012-10-17',
      },
    ],
    [
      'single-element arrays written as strings',
      {
        ...POLICY,
        Statement: [
          {
            ...POLICY.Statement[0],
            Action: 's3:GetObject',
            Condition: { StringLike: { 's3:prefix': 'p/' } },
          },
        ],
      },
    ],
    ['Statement as one object', { ...POLICY, Statement: POLICY.Statement[0] }],
    [
      'resources in another order',
      {
        ...POLICY,
        Statement: [{ ...POLICY.Statement[0], Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/p/*'] }],
      },
    ],
  ])('treats %s as the same policy', (_case, other) => {
    expect(policiesEqual(POLICY, other)).toBe(true);
    expect(canonicalPolicyJson(POLICY)).toBe(canonicalPolicyJson(other));
  });

  it.each([
    ['another action', { ...POLICY, Statement: [{ ...POLICY.Statement[0], Action: 's3:PutObject' }] }],
    ['one resource less', { ...POLICY, Statement: [{ ...POLICY.Statement[0], Resource: 'arn:aws:s3:::b' }] }],
    ['Deny instead of Allow', { ...POLICY, Statement: [{ ...POLICY.Statement[0], Effect: 'Deny' }] }],
    ['no Version (IAM reads it as 2008-10-17)', { Statement: POLICY.Statement }],
    [
      'StringLike turned into StringEquals',
      {
        ...POLICY,
        Statement: [{ ...POLICY.Statement[0], Condition: { StringEquals: { 's3:prefix': 'p/' } } }],
      },
    ],
    [
      'an extra statement',
      { ...POLICY, Statement: [...POLICY.Statement, { Effect: 'Allow', Action: '*', Resource: '*' }] },
    ],
  ])('tells apart %s', (_case, other) => {
    expect(policiesEqual(POLICY, other)).toBe(false);
  });

  it('compares condition values given as booleans with their string form', () => {
    // Prepare
    const withText = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    };
    const withBoolean = structuredClone(withText) as {
      Statement: { Condition: { Bool: Record<string, unknown> } }[];
    };
    const statement = withBoolean.Statement[0];
    if (statement) statement.Condition.Bool['aws:SecureTransport'] = false;

    // Act + Assess
    expect(policiesEqual(withText, withBoolean)).toBe(true);
  });
});
