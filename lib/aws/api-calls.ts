import type { Client, MetadataBearer, Pluggable } from '@smithy/types';

/**
 * Counts every API call by service and operation, including retries, through SDK middleware.
 * The reconciler reports these counts, tests assert "a second run makes no write" from them,
 * and the benchmarks compare them with the design's lower bound.
 */
export class ApiCallCounter {
  private readonly counts = new Map<string, number>();

  record(service: string, operation: string): void {
    const key = `${service}:${operation}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** `{ "IAM:ListRoles": 3, ... }`, sorted by key. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  total(filter?: (service: string, operation: string) => boolean): number {
    let sum = 0;
    for (const [key, count] of this.counts) {
      const [service = '', operation = ''] = key.split(':');
      if (!filter || filter(service, operation)) sum += count;
    }
    return sum;
  }

  /** Calls whose operation name says they change something. */
  writes(): number {
    return this.total((_service, operation) => !isReadOperation(operation));
  }

  reset(): void {
    this.counts.clear();
  }

  /** A plugin that records each attempt (finalize step, so SDK retries count too). */
  plugin(service: string): Pluggable<object, MetadataBearer> {
    return {
      applyToStack: (stack) => {
        stack.add(
          (next, context) => async (args) => {
            this.record(service, String(context.commandName ?? 'Unknown').replace(/Command$/, ''));
            return next(args);
          },
          { step: 'finalizeRequest', name: `apiCallCounter-${service}`, override: true },
        );
      },
    };
  }

  attach<C extends Client<object, MetadataBearer, unknown>>(service: string, client: C): C {
    client.middlewareStack.use(this.plugin(service));
    return client;
  }
}

const READ_PREFIXES = ['List', 'Get', 'Describe', 'Head'];

export function isReadOperation(operation: string): boolean {
  return READ_PREFIXES.some((prefix) => operation.startsWith(prefix));
}
