import { join } from 'node:path';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { ownershipTags } from '../../lib/reconciler/ownership';
import { mapWithConcurrency } from '../../lib/util/concurrency';
import { EMULATOR_CREDENTIALS, startMotoServer } from '../../test/support/moto-server';
import { type MemoryUsage, runChild } from '../child';
import { BENCH_BOUNDARY_ARN, benchConfig } from './fleet';
import type { ObserveScenarioInput, ObserveScenarioResult } from './observe-scenario';

/**
 * Observe at IAM's account ceiling: an account holding `roles` roles (5,000 is IAM's maximum quota), of
 * which `owned` are this deployment's (two inline policies and five tags each, as the reconciler makes
 * them) and the rest someone else's. Reports the time and peak RSS of one observe, and its calls.
 */
export interface AccountObserveResult {
  roles: number;
  owned: number;
  seedMs: number;
  wallMs: number;
  processWallMs: number;
  memory: MemoryUsage;
  apiCalls: Record<string, number>;
  ownedSeen: number;
  otherSeen: number;
}

const SCENARIO = join(__dirname, 'observe-scenario.ts');
const STAGE = 'bench';
const ROLE_PATH = `/irsa-reconciler/${STAGE}/`;

export async function runAccountObserveBench(options: {
  roles: number;
  owned: number;
  log: (line: string) => void;
}): Promise<AccountObserveResult> {
  const moto = await startMotoServer();
  try {
    const iam = new IAMClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bench-artifacts/clusters/*' },
      ],
    });
    const started = performance.now();
    await mapWithConcurrency(
      Array.from({ length: options.roles }, (_, index) => index),
      16,
      async (index) => {
        const isOwned = index < options.owned;
        const roleName = `${isOwned ? 'irsa-owned' : 'other'}-${String(index).padStart(5, '0')}`;
        const tags = isOwned
          ? ownershipTags(STAGE, 'eu-west-1', `cluster-${index}`, 'uploader')
          : { team: 'x' };
        await iam.send(
          new CreateRoleCommand({
            RoleName: roleName,
            Path: isOwned ? ROLE_PATH : '/apps/',
            AssumeRolePolicyDocument: trust,
            ...(isOwned ? { PermissionsBoundary: BENCH_BOUNDARY_ARN } : {}),
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        for (const name of isOwned ? ['s3-prefix-access', 'secretsmanager-read'] : ['own-policy']) {
          await iam.send(
            new PutRolePolicyCommand({ RoleName: roleName, PolicyName: name, PolicyDocument: policy }),
          );
        }
      },
    );
    const seedMs = Math.round(performance.now() - started);
    options.log(`account observe: ${options.roles} roles (${options.owned} owned) seeded in ${seedMs} ms`);
    const input: ObserveScenarioInput = {
      endpoint: moto.endpoint,
      stage: STAGE,
      rawConfig: benchConfig(['eu-west-1'], 8, 'irsa-'),
    };
    const outcome = await runChild<ObserveScenarioInput, ObserveScenarioResult>(SCENARIO, input);
    const result: AccountObserveResult = {
      roles: options.roles,
      owned: options.owned,
      seedMs,
      wallMs: outcome.result.wallMs,
      processWallMs: outcome.processWallMs,
      memory: outcome.memory,
      apiCalls: outcome.result.apiCalls,
      ownedSeen: outcome.result.ownedRoles,
      otherSeen: outcome.result.otherRoles,
    };
    options.log(
      `account observe: ${result.wallMs} ms, peak RSS ${result.memory.peakRssMb} MB, ${JSON.stringify(result.apiCalls)}, ${result.ownedSeen} owned + ${result.otherSeen} other roles seen`,
    );
    return result;
  } finally {
    await moto.stop();
  }
}
