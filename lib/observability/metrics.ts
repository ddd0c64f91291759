import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The project's metrics: Powertools for AWS Lambda's Metrics (CloudWatch embedded metric format: one
 * JSON document per invocation in the function's log, turned into metrics by CloudWatch Logs, with no
 * SDK call and no latency) behind the small interface the core is written against.
 */
export interface MetricsSink {
  /** Adds to a count of this invocation. */
  count(name: string, value: number): void;
  /** Writes the invocation's counts as one EMF document (nothing when none was counted). */
  publish(): void;
}

export interface MetricsOptions {
  /** CloudWatch namespace, e.g. `IrsaReconciler`. */
  namespace: string;
  service: string;
  /** Dimensions of every metric (e.g. the stage, the bucket). */
  dimensions?: Record<string, string>;
  /** Where the EMF documents go instead of stdout (a test's capture). */
  write?: (line: string) => void;
}

export function createMetrics(options: MetricsOptions): MetricsSink {
  const metrics = new Metrics({
    namespace: options.namespace,
    serviceName: options.service,
    ...(options.dimensions ? { defaultDimensions: options.dimensions } : {}),
  });
  let counted = 0;
  return {
    count(name, value) {
      metrics.addMetric(name, MetricUnit.Count, value);
      counted++;
    },
    publish() {
      if (counted === 0) return;
      counted = 0;
      if (!options.write) {
        metrics.publishStoredMetrics();
        return;
      }
      options.write(JSON.stringify(metrics.serializeMetrics()));
      metrics.clearMetrics();
      metrics.clearDimensions();
      metrics.clearMetadata();
    },
  };
}

/** A sink that keeps nothing (tests, CLIs that report through their own output). */
export const noMetrics: MetricsSink = { count: () => {}, publish: () => {} };
