import { computeCounts, formatReportTable, hasChanges } from '../../../lib/reconciler/report';
import type { ActionResult, ReconcileReport } from '../../../lib/reconciler/types';

const DOC = { Version: '2012-10-17', Statement: [] };
const provider = { region: 'eu-west-1', clusterName: 'a', issuerUrl: 'https://oidc/x', arn: 'arn:p' };

function result(
  action: ActionResult['action'],
  status: 'succeeded' | 'planned' | 'failed' = 'succeeded',
): ActionResult {
  return {
    action,
    outcome: status === 'failed' ? { status, error: 'AccessDenied: no', retryable: false } : { status },
  };
}

describe('computeCounts', () => {
  it('counts resources, not calls: one created role with two policies is one created', () => {
    // Prepare
    const results = [
      result({ kind: 'create-oidc-provider', provider }),
      result({ kind: 'put-policy', roleName: 'new', policyName: 's3', document: DOC }),
      result({ kind: 'put-policy', roleName: 'new', policyName: 'sm', document: DOC }),
      result({ kind: 'update-trust', roleName: 'drifted', trustPolicy: DOC }),
      result({ kind: 'tag', roleName: 'drifted', tags: { a: 'b' } }),
      result({ kind: 'no-op', roleName: 'same' }),
      result({ kind: 'delete', roleName: 'old', reason: 'cluster gone' }),
      result({ kind: 'delete-policy', roleName: 'broken', policyName: 'x' }),
      result({ kind: 'put-policy', roleName: 'broken', policyName: 'y', document: DOC }, 'failed'),
    ];
    const withCreate = [
      ...results,
      result({
        kind: 'create',
        role: {
          mode: 'irsa',
          roleName: 'new',
          path: '/p/',
          region: 'eu-west-1',
          clusterName: 'a',
          bindingName: 'b',
          permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/b',
          oidcProviderArn: 'arn:p',
          trustPolicy: DOC,
          inlinePolicies: {},
          tags: {},
          description: '',
        },
      }),
    ];

    // Act
    const counts = computeCounts(withCreate, [
      { region: 'eu-west-1', clusterName: 'z', reason: 'opted out' },
    ]);

    // Assess
    expect(counts).toEqual({ created: 2, updated: 1, deleted: 1, unchanged: 1, skipped: 1, failed: 1 });
  });

  it('counts planned actions as what they would do', () => {
    expect(
      computeCounts([result({ kind: 'delete', roleName: 'old', reason: 'r' }, 'planned')], []),
    ).toMatchObject({
      deleted: 1,
      failed: 0,
    });
  });
});

describe('formatReportTable', () => {
  it('lists every action with its outcome, the counts, the regions and the API calls', () => {
    // Prepare
    const report: ReconcileReport = {
      dryRun: false,
      account: { accountId: '123456789012', partition: 'aws' },
      regions: [
        { region: 'eu-west-1', status: 'complete', clusters: 2 },
        { region: 'us-east-1', status: 'unknown', clusters: 0, error: 'EKS ListClusters failed' },
      ],
      results: [
        result({ kind: 'no-op', roleName: 'irsa-a' }),
        result(
          { kind: 'put-policy', roleName: 'irsa-b', policyName: 's3-prefix-access', document: DOC },
          'failed',
        ),
      ],
      skipped: [{ region: 'eu-west-1', clusterName: 'c', reason: 'opted out' }],
      drift: [
        { roleName: 'irsa-a', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', detach: false },
      ],
      pruneBlocked: { wouldDelete: 4, owned: 6, maxPruneFraction: 0.5 },
      counts: { created: 0, updated: 0, deleted: 0, unchanged: 1, skipped: 1, failed: 1 },
      apiCalls: { 'IAM:ListRoles': 1, 'IAM:PutRolePolicy': 2 },
      failed: true,
    };

    // Act
    const lines = formatReportTable(report).split('\n');

    // Assess
    expect(lines).toContainEqual(expect.stringMatching(/^no-op\s+irsa-a\s+succeeded$/));
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^irsa-a\s+arn:aws:iam::aws:policy\/AdministratorAccess\s+reported only \(set detachUnmanagedPolicies to detach\)$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^put-policy\s+irsa-b\s+s3-prefix-access\s+FAILED: AccessDenied: no$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^us-east-1\s+unknown\s+0\s+EKS ListClusters failed$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^eu-west-1\s+c\s+\*\s+opted out$/));
    expect(lines).toContain('Counts: created 0, updated 0, deleted 0, unchanged 1, skipped 1, failed 1');
    expect(lines).toContain('API calls: 3');
    expect(lines.some((line) => line.includes('4 of 6 owned roles'))).toBe(true);
    expect(lines.at(-1)).toBe('Result: FAILED');
  });
});

describe('hasChanges', () => {
  const report = (results: ActionResult[]) => ({ results }) as unknown as ReconcileReport;
  const association = {
    region: 'eu-west-1',
    clusterName: 'a',
    namespace: 'ns',
    serviceAccount: 'sa',
    bindingName: 'b',
  };

  it('sees no change in a plan of no-ops of every kind (roles, associations, forwarding rules)', () => {
    expect(
      hasChanges(
        report([
          result({ kind: 'no-op', roleName: 'same' }, 'planned'),
          result({ kind: 'association-no-op', association, associationId: 'a-1' }, 'planned'),
          result({ kind: 'forwarding-no-op', region: 'us-east-1', name: 'r' }, 'planned'),
        ]),
      ),
    ).toBe(false);
  });

  it('sees a change in any write', () => {
    expect(
      hasChanges(
        report([
          result({ kind: 'no-op', roleName: 'same' }, 'planned'),
          result(
            { kind: 'delete-forwarding-rule', region: 'us-east-1', name: 'r', reason: 'off' },
            'planned',
          ),
        ]),
      ),
    ).toBe(true);
  });
});
