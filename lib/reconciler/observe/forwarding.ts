import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import {
  DescribeRuleCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { describeError, isNotFound, toAwsCallError } from '../../errors';
import { mapSettled } from '../../util/concurrency';
import { forwardingRuleName } from '../config/naming';
import type { ReconcilerDeps } from '../deps';
import { hasOwnershipTags } from '../ownership';
import type { ObservedForwardingRule, ReconcilerConfig } from '../types';

/**
 * The forwarding rule's name in every region of the account (DescribeRegions: the enabled ones) but the
 * stack's own, whose rule is the stack's: a rule left in a region no longer scanned is found and
 * removed too. When the region list cannot be read, the scanned regions are looked at, so nothing is
 * missed that should exist; a region whose rule cannot be read is `unknown` and nothing there changes.
 * Undefined when the configuration does not manage forwarding (no EventBridge call at all).
 */
export async function observeForwarding(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
): Promise<ObservedForwardingRule[] | undefined> {
  if (config.eventForwarding === undefined) return undefined;
  const regions = (await enabledRegions(deps, config)).filter((region) => region !== config.deploymentRegion);
  const name = forwardingRuleName(config.stage);
  const read = await mapSettled(regions, config.concurrency, (region) =>
    readRule(deps, config, region, name),
  );
  return regions.map((region, index): ObservedForwardingRule => {
    const outcome = read[index];
    if (outcome?.status === 'fulfilled') return outcome.value;
    return { region, status: 'unknown', error: describeError(outcome?.reason) };
  });
}

async function enabledRegions(deps: ReconcilerDeps, config: ReconcilerConfig): Promise<string[]> {
  try {
    const { Regions } = await deps.clients
      .ec2(config.deploymentRegion)
      .send(new DescribeRegionsCommand({ AllRegions: false }));
    const names = (Regions ?? []).flatMap((region) => (region.RegionName ? [region.RegionName] : []));
    return [...new Set([...config.regions, ...names])].sort();
  } catch (error) {
    deps.logger.warn(
      'the account regions could not be listed: forwarding rules are looked for in the scanned regions only',
      { error: describeError(toAwsCallError('EC2 DescribeRegions', error)) },
    );
    return [...config.regions].sort();
  }
}

async function readRule(
  deps: ReconcilerDeps,
  config: ReconcilerConfig,
  region: string,
  name: string,
): Promise<ObservedForwardingRule> {
  const events = deps.clients.events(region);
  let rule: { Arn?: string; EventPattern?: string; State?: string };
  try {
    rule = await events.send(new DescribeRuleCommand({ Name: name }));
  } catch (error) {
    if (isNotFound(error)) return { region, status: 'absent' };
    throw toAwsCallError(`EventBridge DescribeRule ${name} in ${region}`, error);
  }
  try {
    const { Tags } = await events.send(new ListTagsForResourceCommand({ ResourceARN: rule.Arn }));
    const tags = Object.fromEntries((Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
    const owned = hasOwnershipTags(tags, config.stage);
    // Another's rule is only reported: its targets are none of this deployment's business.
    if (!owned) return { region, status: 'present', owned, eventPattern: '', state: '', targets: [] };
    const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
    return {
      region,
      status: 'present',
      owned,
      eventPattern: rule.EventPattern ?? '',
      state: rule.State ?? '',
      targets: (Targets ?? []).map((target) => ({
        id: target.Id ?? '',
        arn: target.Arn ?? '',
        ...(target.RoleArn ? { roleArn: target.RoleArn } : {}),
      })),
    };
  } catch (error) {
    throw toAwsCallError(`EventBridge rule ${name} in ${region}`, error);
  }
}
