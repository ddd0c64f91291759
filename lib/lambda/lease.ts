import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LeaseBusyError, toAwsCallError } from '../errors';

/**
 * The deployment's run lease: the scheduled run, the custom resource and the cluster-events consumer
 * take it before they write, so no cluster is ever worked on by two of them at once (what
 * controller-runtime's leader election gives a controller, for a fleet of short runs). One DynamoDB item,
 * taken with a conditional put: free, expired, or already this holder's. A holder that dies leaves it
 * to expire at the deadline it took it for (its invocation's end), so nothing waits forever.
 */

export interface RunLease {
  /**
   * Runs `work` while holding the lease, waiting up to `waitMs` for it (polling); throws LeaseBusyError
   * (retryable) if another holder still has it then. Released when `work` ends, whatever the outcome.
   */
  hold<T>(holder: string, timing: LeaseTiming, work: () => Promise<T>): Promise<T>;
}

export interface LeaseTiming {
  /** How long to wait for another holder to finish; 0 to try once. */
  waitMs: number;
  /** How long the lease is taken for: the holder's deadline (its remaining invocation time). */
  holdMs: number;
}

/** No lease (a plan from a laptop, a test of one handler alone). */
export const noLease: RunLease = { hold: (_holder, _timing, work) => work() };

export interface DynamoLeaseOptions {
  table: string;
  /** The item's key: one lease per deployment. */
  name?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  pollMs?: number;
}

export function dynamoLease(dynamo: DynamoDBClient, options: DynamoLeaseOptions): RunLease {
  const name = options.name ?? 'reconciler';
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = options.pollMs ?? 5_000;

  const tryTake = async (holder: string, holdMs: number) => {
    const at = now();
    try {
      await dynamo.send(
        new PutItemCommand({
          TableName: options.table,
          Item: {
            name: { S: name },
            holder: { S: holder },
            expiresAt: { N: String(at + holdMs) },
            // DynamoDB's TTL (seconds) removes a dead holder's item eventually; the condition below
            // does not wait for it.
            ttl: { N: String(Math.ceil((at + holdMs) / 1000) + 3600) },
          },
          ConditionExpression: 'attribute_not_exists(#name) OR expiresAt < :now OR holder = :holder',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: { ':now': { N: String(at) }, ':holder': { S: holder } },
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) {
        throw toAwsCallError(`DynamoDB PutItem (take the run lease) on ${options.table}`, error);
      }
      return current();
    }
  };

  const current = async (): Promise<LeaseBusyError> => {
    try {
      const { Item } = await dynamo.send(
        new GetItemCommand({ TableName: options.table, Key: { name: { S: name } }, ConsistentRead: true }),
      );
      return new LeaseBusyError(Item?.holder?.S ?? 'another run', new Date(Number(Item?.expiresAt?.N ?? 0)));
    } catch (error) {
      throw toAwsCallError(`DynamoDB GetItem (read the run lease) on ${options.table}`, error);
    }
  };

  const release = async (holder: string) => {
    try {
      await dynamo.send(
        new DeleteItemCommand({
          TableName: options.table,
          Key: { name: { S: name } },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
    } catch (error) {
      // Expired and taken by another meanwhile: theirs now, not ours to release.
      if (error instanceof ConditionalCheckFailedException) return;
      throw toAwsCallError(`DynamoDB DeleteItem (release the run lease) on ${options.table}`, error);
    }
  };

  return {
    async hold(holder, timing, work) {
      const deadline = now() + timing.waitMs;
      for (;;) {
        const busy = await tryTake(holder, timing.holdMs);
        if (busy === undefined) break;
        if (now() + pollMs > deadline) throw busy;
        await sleep(pollMs);
      }
      try {
        return await work();
      } finally {
        await release(holder);
      }
    },
  };
}

/**
 * A full run's timing: wait for the lease at most a third of the invocation's time left (a single
 * cluster's run takes seconds; a full run, minutes), and hold it until the invocation's end.
 */
export function leaseTiming(context: { getRemainingTimeInMillis(): number }): LeaseTiming {
  const remaining = context.getRemainingTimeInMillis();
  return { waitMs: Math.floor(remaining / 3), holdMs: remaining };
}
