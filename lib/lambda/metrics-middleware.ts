import type { MiddlewareObj } from '@middy/core';
import type { MetricsSink } from '../observability/metrics';

/** Publishes the invocation's metrics once it ends, answered or failed (as Powertools' logMetrics does). */
export function publishMetrics(metrics: MetricsSink): MiddlewareObj {
  return {
    name: 'publishMetrics',
    after: () => metrics.publish(),
    onError: () => metrics.publish(),
  };
}
