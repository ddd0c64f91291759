import type { AwsClients } from '../aws/clients';
import { ConfigError } from '../errors';
import type { Logger } from '../logger';
import { parseReconcilerConfig } from '../reconciler/config';
import { reconcile, teardown } from '../reconciler/reconcile';
import type { ReconcileReport, ReconcilerConfig } from '../reconciler/types';
import type { CfnEvent } from './cfn-event';
import type { CfnOutcome } from './cfn-response';
import { describeFailures, hasFailedActions } from './errors';

export interface CustomResourceContext {
  clients: AwsClients;
  logger: Logger;
  stage: string;
  region: string;
}

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

/** Create/Update reconcile to the event's configuration; Delete removes every role this stage owns. */
export async function handleCustomResourceEvent(
  ctx: CustomResourceContext,
  event: CfnEvent,
): Promise<CfnOutcome> {
  const deps = { clients: ctx.clients, logger: ctx.logger };
  if (event.RequestType === 'Delete') {
    if (isNotCreatedPhysicalResourceId(event.PhysicalResourceId)) {
      ctx.logger.info('Delete of a resource whose Create failed before any change: nothing to remove');
      return { status: 'SUCCESS', physicalResourceId: event.PhysicalResourceId };
    }
    const report = await teardown(deps, teardownConfig(ctx, event.ResourceProperties));
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
    config = readConfig(ctx, event.ResourceProperties);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const untouched =
      event.RequestType === 'Create' ? notCreatedPhysicalResourceId(event.RequestId) : physicalResourceId;
    return failed(untouched, error.message);
  }
  const report = await reconcile(deps, config);
  ctx.logger.debug('reconcile results', { results: report.results, skipped: report.skipped });
  if (report.failed)
    return failed(physicalResourceId, `Reconcile finished with failures: ${describeFailures(report)}`);
  return { status: 'SUCCESS', physicalResourceId, data: reportData(report) };
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
  };
}

/**
 * ResourceProperties.Config is the configuration as a JSON string: CloudFormation turns every scalar
 * property into a string, so a nested map would lose its numbers and booleans.
 */
function readConfig(ctx: CustomResourceContext, properties: Record<string, unknown>): ReconcilerConfig {
  const raw = properties.Config;
  if (typeof raw !== 'string') {
    throw new ConfigError(
      'ResourceProperties.Config is required and must be the reconciler configuration as a JSON string',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`ResourceProperties.Config is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return parseReconcilerConfig(parsed, { stage: ctx.stage, deploymentRegion: ctx.region });
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(`Invalid configuration in ResourceProperties.Config: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Keys that decide which roles a deployment owns and how a teardown runs. */
const TEARDOWN_KEYS = ['rolePath', 'dryRun', 'concurrency'] as const;

/**
 * The configuration a Delete tears down with. When the event's Config no longer validates (for example
 * a template removed by a newer code version), ownership is still decided by the stage and the role
 * path: keep those keys if they are valid, else use the stage defaults.
 */
function teardownConfig(ctx: CustomResourceContext, properties: Record<string, unknown>): ReconcilerConfig {
  try {
    return readConfig(ctx, properties);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    ctx.logger.warn(
      'Delete with an invalid Config: tearing down with the ownership keys and stage defaults',
      {
        error,
      },
    );
  }
  const context = { stage: ctx.stage, deploymentRegion: ctx.region };
  try {
    return parseReconcilerConfig({ ...ownershipKeys(properties.Config), bindings: [] }, context);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return parseReconcilerConfig({ bindings: [] }, context);
  }
}

function ownershipKeys(raw: unknown): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const record = parsed as Record<string, unknown>;
  return Object.fromEntries(TEARDOWN_KEYS.filter((key) => key in record).map((key) => [key, record[key]]));
}
