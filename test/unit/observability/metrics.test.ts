import { createMetrics } from '../../../lib/observability/metrics';

describe('createMetrics', () => {
  it("publishes an invocation's counts as one CloudWatch embedded-metric-format document", () => {
    // Prepare
    const lines: string[] = [];
    const metrics = createMetrics({
      namespace: 'IrsaReconciler',
      service: 'irsa-reconciler',
      dimensions: { Stage: 'uat' },
      write: (line) => lines.push(line),
    });

    // Act
    metrics.count('Created', 2);
    metrics.count('RunFailed', 0);
    metrics.publish();
    metrics.publish();

    // Assess
    expect(lines).toHaveLength(1);
    const document = JSON.parse(lines[0] ?? '{}');
    expect(document).toMatchObject({ Stage: 'uat', service: 'irsa-reconciler', Created: 2, RunFailed: 0 });
    expect(document._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'IrsaReconciler',
        Dimensions: [['service', 'Stage']],
        Metrics: [
          { Name: 'Created', Unit: 'Count' },
          { Name: 'RunFailed', Unit: 'Count' },
        ],
      },
    ]);
    expect(typeof document._aws.Timestamp).toBe('number');
  });

  it('writes nothing when nothing was counted', () => {
    const lines: string[] = [];
    createMetrics({ namespace: 'N', service: 's', write: (line) => lines.push(line) }).publish();

    expect(lines).toEqual([]);
  });
});
