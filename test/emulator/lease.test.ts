/**
 * The run lease against moto's DynamoDB: one holder at a time, a dead holder's lease taken over once
 * expired, released only by its holder, and released when the work fails.
 */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LeaseBusyError } from '../../lib/errors';
import { dynamoLease } from '../../lib/lambda/lease';
import { createRunLeaseTable, emulatorDynamo, useEmulator } from '../support/emulator-fixtures';

const TABLE = 'irsa-reconciler-qa-run-lease';

describe('the run lease, against moto', () => {
  let dynamo: DynamoDBClient;
  useEmulator(async (_admin, moto) => {
    dynamo = emulatorDynamo(moto.endpoint);
    await createRunLeaseTable(moto.endpoint, TABLE);
  });
  afterEach(() => dynamo.destroy());

  const holderNow = async () =>
    (await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { name: { S: 'reconciler' } } }))).Item
      ?.holder?.S;

  it('lets one holder at a time work; the other is refused, naming the holder, and nothing of its work runs', async () => {
    // Prepare
    const lease = dynamoLease(dynamo, { table: TABLE });
    let refused: unknown;
    let secondRan = false;

    // Act: B tries while A works
    const first = await lease.hold('A', { waitMs: 0, holdMs: 60_000 }, async () => {
      try {
        await lease.hold('B', { waitMs: 0, holdMs: 60_000 }, async () => {
          secondRan = true;
        });
      } catch (error) {
        refused = error;
      }
      return 'done';
    });

    // Assess
    expect(first).toBe('done');
    expect(secondRan).toBe(false);
    expect(refused).toBeInstanceOf(LeaseBusyError);
    expect((refused as LeaseBusyError).heldBy).toBe('A');
    expect((refused as LeaseBusyError).retryable).toBe(true);
    expect(await holderNow()).toBeUndefined();
  });

  it('waits for the holder to finish, polling; gives up with a retryable error at its wait bound', async () => {
    // Prepare: a clock the sleeps advance; A holds, and is done after B's second look
    let clock = 1_000_000;
    let looks = 0;
    let release: (() => void) | undefined;
    const options = {
      table: TABLE,
      now: () => clock,
      pollMs: 1_000,
      sleep: async (ms: number) => {
        clock += ms;
        if (++looks === 2) release?.();
      },
    };
    const lease = dynamoLease(dynamo, options);
    let started: () => void = () => {};
    const holdingStarted = new Promise<void>((resolve) => (started = resolve));
    const holding = lease.hold('A', { waitMs: 0, holdMs: 600_000 }, () => {
      started();
      return new Promise<void>((resolve) => (release = resolve));
    });
    await holdingStarted;

    // Act
    const waited = await lease.hold('B', { waitMs: 10_000, holdMs: 60_000 }, async () => holderNow());
    await holding;
    const stuck = dynamoLease(dynamo, {
      ...options,
      sleep: async (ms: number) => {
        clock += ms;
      },
    });
    const blocking = stuck.hold('C', { waitMs: 0, holdMs: 600_000 }, async () =>
      stuck.hold('D', { waitMs: 3_000, holdMs: 60_000 }, async () => 'never'),
    );

    // Assess
    expect(waited).toBe('B');
    expect(looks).toBeGreaterThanOrEqual(2);
    await expect(blocking).rejects.toThrow(/held by C/);
  });

  it("refuses a live holder's lease, and takes over a dead holder's once it has expired", async () => {
    // Prepare: A took the lease for 1 s and died (never released)
    let clock = 5_000_000;
    const lease = dynamoLease(dynamo, { table: TABLE, now: () => clock });
    let started: () => void = () => {};
    const deadStarted = new Promise<void>((resolve) => (started = resolve));
    void lease.hold('A', { waitMs: 0, holdMs: 1_000 }, () => {
      started();
      return new Promise<never>(() => {});
    });
    await deadStarted;
    const early = lease.hold('B', { waitMs: 0, holdMs: 60_000 }, async () => 'too early');
    await expect(early).rejects.toBeInstanceOf(LeaseBusyError);

    // Act
    clock += 2_000;
    const late = await lease.hold('B', { waitMs: 0, holdMs: 60_000 }, async () => holderNow());

    // Assess
    expect(late).toBe('B');
  });

  it('is released when the work fails, and the failure is the work’s own', async () => {
    const lease = dynamoLease(dynamo, { table: TABLE });
    await expect(
      lease.hold('A', { waitMs: 0, holdMs: 60_000 }, async () => {
        throw new Error('apply failed');
      }),
    ).rejects.toThrow('apply failed');
    expect(await holderNow()).toBeUndefined();
    await expect(lease.hold('B', { waitMs: 0, holdMs: 60_000 }, async () => 'ok')).resolves.toBe('ok');
  });
});
