import {
  DeleteRuleCommand,
  DescribeRuleCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IrsaReconcilerError, isNotFound, toAwsCallError } from '../errors';
import type { ReconcilerDeps } from './deps';
import { hasOwnershipTags, TAG_MANAGED_BY, TAG_MANAGED_BY_VALUE, TAG_STAGE } from './ownership';
import { FORWARDING_TARGET_ID } from './plan/forwarding';
import type { DesiredForwardingRule, ReconcilerConfig } from './types';

/**
 * The EventBridge calls behind the forwarding actions. A rule is created only where none of that name
 * is (re-read first: PutRule would otherwise take over a rule made meanwhile), with the ownership tags;
 * an update or delete re-reads the tags and leaves a rule it does not own. NotFound on delete is done.
 */

export async function putForwardingRule(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  rule: DesiredForwardingRule,
  create: boolean,
  extraTargetIds: readonly string[],
): Promise<void> {
  const events = deps.clients.events(rule.region);
  const where = `EventBridge rule ${rule.name} in ${rule.region}`;
  try {
    const current = await ownership(deps, config, rule.region, rule.name);
    if (create && current !== 'absent') {
      throw new IrsaReconcilerError(`${where} appeared since it was read; left for the next run`, {
        retryable: true,
      });
    }
    if (!create && current !== 'owned') {
      throw new IrsaReconcilerError(
        `${where} is ${current === 'absent' ? 'gone' : 'not owned'} since it was read`,
        { retryable: true },
      );
    }
    await events.send(
      new PutRuleCommand({
        Name: rule.name,
        EventPattern: rule.eventPattern,
        State: 'ENABLED',
        Description: `EKS CreateCluster/DeleteCluster calls to ${rule.busArn}, managed by irsa-reconciler stage ${config.stage}`,
        ...(create
          ? {
              Tags: [
                { Key: TAG_MANAGED_BY, Value: TAG_MANAGED_BY_VALUE },
                { Key: TAG_STAGE, Value: config.stage },
              ],
            }
          : {}),
      }),
    );
    const put = await events.send(
      new PutTargetsCommand({
        Rule: rule.name,
        Targets: [{ Id: FORWARDING_TARGET_ID, Arn: rule.busArn, RoleArn: rule.roleArn }],
      }),
    );
    if ((put.FailedEntryCount ?? 0) > 0) {
      throw new IrsaReconcilerError(`${where}: PutTargets refused: ${JSON.stringify(put.FailedEntries)}`, {
        retryable: true,
      });
    }
    if (extraTargetIds.length > 0) {
      await events.send(new RemoveTargetsCommand({ Rule: rule.name, Ids: [...extraTargetIds] }));
    }
  } catch (error) {
    throw toAwsCallError(where, error);
  }
}

export async function deleteForwardingRule(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  region: string,
  name: string,
): Promise<void> {
  const events = deps.clients.events(region);
  try {
    const current = await ownership(deps, config, region, name);
    if (current === 'absent') return;
    if (current === 'not-owned') {
      throw new IrsaReconcilerError(`EventBridge rule ${name} in ${region} is not owned since it was read`, {
        retryable: true,
      });
    }
    const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
    const ids = (Targets ?? []).flatMap((target) => (target.Id ? [target.Id] : []));
    if (ids.length > 0) await events.send(new RemoveTargetsCommand({ Rule: name, Ids: ids }));
    await events.send(new DeleteRuleCommand({ Name: name }));
  } catch (error) {
    if (isNotFound(error)) return;
    throw toAwsCallError(`EventBridge DeleteRule ${name} in ${region}`, error);
  }
}

async function ownership(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  region: string,
  name: string,
): Promise<'absent' | 'owned' | 'not-owned'> {
  const events = deps.clients.events(region);
  let arn: string | undefined;
  try {
    ({ Arn: arn } = await events.send(new DescribeRuleCommand({ Name: name })));
  } catch (error) {
    if (isNotFound(error)) return 'absent';
    throw error;
  }
  const { Tags } = await events.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
  const tags = Object.fromEntries((Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
  return hasOwnershipTags(tags, config.stage) ? 'owned' : 'not-owned';
}
