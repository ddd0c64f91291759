import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { AwsClients } from '../aws/clients';
import { ConfigError, isNotFound, RefusedRequestError, toAwsCallError } from '../errors';
import type { Logger } from '../observability/logger';
import type { MetricsSink } from '../observability/metrics';
import { reconcile, teardown } from '../reconciler/index';
import { describeFailures, hasFailedActions, recordRunMetrics } from '../reconciler/report';
import type { ReconcileReport, ReconcilerConfig } from '../reconciler/types';
import type { CfnEvent } from './cfn-event';
import type { CfnOutcome } from './cfn-response';

/** What the custom resource knows of its own deployment, from its environment. */
export interface DeploymentIdentity {
  /** The stack that owns this function (STACK_ID): requests from any other stack are refused. */
  stackId: string;
  /** The hosted configuration version the stack wrote (CONFIG_VERSION). */
  configVersion: string;
}

export interface CustomResourceContext {
  clients: AwsClients;
  logger: Logger;
  stage: string;
  region: string;
  deployment: DeploymentIdentity;
  /** The configuration the deployment wrote; never the event's. */
  loadConfig: () => Promise<ReconcilerConfig>;
  /** The run's counts as CloudWatch metrics, published once the run is done. */
  metrics?: MetricsSink;
  /** Runs the reconcile or teardown while no other run of the deployment writes (the run lease). */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
}

/**
 * Stack states in which CloudFormation deletes a custom resource: the stack is deleted, a failed Create
 * rolls back, or an Update removed the resource (or rolls back one that added it). Only then does a
 * Delete tear down: anyone allowed to invoke the function could otherwise send one.
 */
export const TEARDOWN_STACK_STATUSES: ReadonlySet<string> = new Set([
  'DELETE_IN_PROGRESS',
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
]);

/** The same on every Create and Update, so CloudFormation never sees a replacement. */
export function stablePhysicalResourceId(stage: string): string {
  return `irsa-reconciler-${stage}`;
}

const NOT_CREATED_PREFIX = 'irsa-reconciler-not-created-';

/**
 * The PhysicalResourceId of a Create that failed before any AWS call (invalid event, environment or
 * configuration): the rollback Delete that follows knows there is nothing to remove.
 */
export function notCreatedPhysicalResourceId(requestId: string): string {
  return `${NOT_CREATED_PREFIX}${requestId || 'unknown-request'}`;
}

export function isNotCreatedPhysicalResourceId(physicalResourceId: string): boolean {
  return physicalResourceId.startsWith(NOT_CREATED_PREFIX);
}

/** The id to answer with when the work throws after it may have written something. */
export function physicalResourceIdOnError(event: CfnEvent, stage: string): string {
  return event.RequestType === 'Create' ? stablePhysicalResourceId(stage) : event.PhysicalResourceId;
}

/**
 * The outcome in a container whose environment is invalid: the Delete that rolls back a Create which
 * never started succeeds; everything else fails with the environment error (naming the variable).
 */
export async function unconfiguredOutcome(error: unknown, event: CfnEvent): Promise<CfnOutcome> {
  if (event.RequestType === 'Delete' && isNotCreatedPhysicalResourceId(event.PhysicalResourceId)) {
    return { status: 'SUCCESS', physicalResourceId: event.PhysicalResourceId };
  }
  throw error;
}

/** The id to answer with when an unconfigured container fails a request. */
export function unconfiguredPhysicalResourceId(event: CfnEvent): string {
  return event.RequestType === 'Create'
    ? notCreatedPhysicalResourceId(event.RequestId)
    : event.PhysicalResourceId;
}

/**
 * Create/Update reconcile to the deployment's configuration; Delete removes every role this stage owns.
 * Before anything else the request must come from this deployment: its StackId, and the configuration
 * version the stack wrote (the property that makes CloudFormation send an Update). A Delete also needs
 * the stack to be in a state in which CloudFormation deletes the resource. A refused request changes
 * nothing and is answered FAILED (its ResponseURL was already checked to be CloudFormation's).
 */
export async function handleCustomResourceEvent(
  ctx: CustomResourceContext,
  event: CfnEvent,
): Promise<CfnOutcome> {
  const refusal = originRefusal(ctx.deployment, event);
  if (refusal) return refuse(ctx, event, refusal);

  const deps = { clients: ctx.clients, logger: ctx.logger };
  const exclusive = ctx.exclusive ?? ((work) => work());
  if (event.RequestType === 'Delete') {
    if (isNotCreatedPhysicalResourceId(event.PhysicalResourceId)) {
      ctx.logger.info('Delete of a resource whose Create failed before any change: nothing to remove');
      return { status: 'SUCCESS', physicalResourceId: event.PhysicalResourceId };
    }
    const status = await stackStatus(ctx.clients, ctx.deployment.stackId);
    if (status === undefined || !TEARDOWN_STACK_STATUSES.has(status)) {
      return refuse(
        ctx,
        event,
        `Delete refused: stack ${ctx.deployment.stackId} is ${status ?? 'not found'}, not in a state in which ` +
          `CloudFormation deletes this resource (${[...TEARDOWN_STACK_STATUSES].join(', ')})`,
      );
    }
    const torn = await ctx.loadConfig();
    const report = published(ctx, await exclusive(() => teardown(deps, torn)));
    ctx.logger.debug('teardown results', { results: report.results });
    return hasFailedActions(report)
      ? failed(
          event.PhysicalResourceId,
          `Teardown left roles behind: ${describeFailures(report, { includeRegions: false })}`,
        )
      : { status: 'SUCCESS', physicalResourceId: event.PhysicalResourceId, data: reportData(report) };
  }

  const physicalResourceId =
    event.RequestType === 'Create' ? stablePhysicalResourceId(ctx.stage) : event.PhysicalResourceId;
  let config: ReconcilerConfig;
  try {
    config = await ctx.loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const untouched =
      event.RequestType === 'Create' ? notCreatedPhysicalResourceId(event.RequestId) : physicalResourceId;
    return failed(untouched, error.message);
  }
  const report = published(ctx, await exclusive(() => reconcile(deps, config)));
  ctx.logger.debug('reconcile results', { results: report.results, skipped: report.skipped });
  if (report.failed)
    return failed(physicalResourceId, `Reconcile finished with failures: ${describeFailures(report)}`);
  return { status: 'SUCCESS', physicalResourceId, data: reportData(report) };
}

function published(ctx: CustomResourceContext, report: ReconcileReport): ReconcileReport {
  if (ctx.metrics) {
    recordRunMetrics(ctx.metrics, report);
    ctx.metrics.publish();
  }
  return report;
}

/** Why a request is not this deployment's, or undefined when it is. */
export function originRefusal(deployment: DeploymentIdentity, event: CfnEvent): string | undefined {
  if (event.StackId !== deployment.stackId) {
    return `request refused: StackId ${event.StackId} is not this deployment's stack ${deployment.stackId}`;
  }
  const version = event.ResourceProperties.ConfigVersion;
  if (version !== deployment.configVersion) {
    return (
      `request refused: ResourceProperties.ConfigVersion ${JSON.stringify(version ?? null)} is not the ` +
      `configuration version this deployment wrote (${deployment.configVersion})`
    );
  }
  return undefined;
}

function refuse(ctx: CustomResourceContext, event: CfnEvent, reason: string): CfnOutcome {
  ctx.logger.error('custom resource request refused: no role was changed', {
    reason,
    stackId: event.StackId,
    requestType: event.RequestType,
  });
  const physicalResourceId =
    event.RequestType === 'Create' ? notCreatedPhysicalResourceId(event.RequestId) : event.PhysicalResourceId;
  return failed(physicalResourceId, new RefusedRequestError(reason).message);
}

/** The stack's status now, or undefined when CloudFormation does not know it. */
async function stackStatus(
  clients: Pick<AwsClients, 'cloudformation'>,
  stackId: string,
): Promise<string | undefined> {
  try {
    const { Stacks } = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackId }));
    return Stacks?.[0]?.StackStatus;
  } catch (error) {
    // CloudFormation answers ValidationError "Stack ... does not exist" for an unknown stack.
    if (isNotFound(error) || /does not exist/.test(String((error as Error).message))) return undefined;
    throw toAwsCallError(`CloudFormation DescribeStacks ${stackId}`, error);
  }
}

function failed(physicalResourceId: string, reason: string): CfnOutcome {
  return { status: 'FAILED', physicalResourceId, reason };
}

/** Fn::GetAtt-able counts; CloudFormation wants strings. */
export function reportData(report: ReconcileReport): Record<string, string> {
  const { counts } = report;
  return {
    Created: String(counts.created),
    Updated: String(counts.updated),
    Deleted: String(counts.deleted),
    Unchanged: String(counts.unchanged),
    Skipped: String(counts.skipped),
    Failed: String(counts.failed),
    DryRun: String(report.dryRun),
    /** Deletes the deletion guard held back (0 when none). */
    PruneBlocked: String(report.pruneBlocked?.wouldDelete ?? 0),
    /** Managed policies attached by hand to owned roles (reported, or detached when configured). */
    Drift: String(report.drift.length),
  };
}
