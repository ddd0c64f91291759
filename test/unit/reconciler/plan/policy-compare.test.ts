import fc from 'fast-check';
import { canonicalPolicyJson, policiesEqual } from '../../../../lib/reconciler/plan/policy-compare';

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

describe('policiesEqual (properties)', () => {
  const leaf = fc.stringMatching(/^[a-z:*/]{1,12}$/);
  const statement = fc.record({
    Effect: fc.constantFrom('Allow', 'Deny'),
    Action: fc.uniqueArray(leaf, { minLength: 1, maxLength: 4 }),
    Resource: fc.uniqueArray(leaf, { minLength: 1, maxLength: 4 }),
    Condition: fc.dictionary(
      fc.constantFrom('StringEquals', 'StringLike'),
      fc.dictionary(leaf, fc.uniqueArray(leaf, { minLength: 1, maxLength: 3 }), { minKeys: 1, maxKeys: 2 }),
      { maxKeys: 2 },
    ),
  });
  const policy = fc.record({
    Version: fc.constant('2012-10-17'),
    Statement: fc.uniqueArray(statement, { minLength: 1, maxLength: 3, selector: (s) => JSON.stringify(s) }),
  });

  /** The same policy as IAM might hand it back: other key order, arrays reversed, singletons unwrapped. */
  function reshape(value: unknown): unknown {
    if (Array.isArray(value)) {
      const items = value.map(reshape).reverse();
      return items.length === 1 ? items[0] : items;
    }
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value)
          .reverse()
          .map(([k, v]) => [k, reshape(v)]),
      );
    }
    return value;
  }

  it('sees a reshaped policy as equal', () => {
    fc.assert(
      fc.property(policy, (p) => expect(policiesEqual(p, reshape(p))).toBe(true)),
      { numRuns: 300 },
    );
  });

  it('sees a policy with one more action as different', () => {
    fc.assert(
      fc.property(policy, (p) => {
        const changed = structuredClone(p);
        changed.Statement[0]?.Action.push('extra:Action');
        expect(policiesEqual(p, changed)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
