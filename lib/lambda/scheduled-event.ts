import { z } from 'zod';
import { InvalidEventError } from '../errors';
import type { ReconcilerConfig } from '../reconciler/types';
import { formatIssues } from '../util/zod-issues';

/** The EventBridge schedule's event (`detail-type: Scheduled Event`, `source: aws.events`). */
const scheduledEventSchema = z.looseObject({
  'detail-type': z.literal('Scheduled Event'),
  source: z.literal('aws.events'),
  id: z.string().min(1),
  time: z.string().min(1),
});

/**
 * A manual `aws lambda invoke` payload: `{}` runs like the schedule, `{"dryRun": true}` plans without
 * writing, `{"forcePrune": true}` lifts the deletion guard for this run only. Unknown keys are errors.
 */
const manualInvokeSchema = z.strictObject({
  dryRun: z.boolean().optional(),
  forcePrune: z.boolean().optional(),
});

export type ReconcileTrigger =
  | { kind: 'schedule'; eventId: string; time: string }
  | { kind: 'manual'; dryRun?: boolean; forcePrune?: boolean };

export function parseReconcileTrigger(raw: unknown): ReconcileTrigger {
  const scheduled = scheduledEventSchema.safeParse(raw);
  if (scheduled.success) return { kind: 'schedule', eventId: scheduled.data.id, time: scheduled.data.time };
  if (typeof raw === 'object' && raw !== null && !('detail-type' in raw) && !('source' in raw)) {
    const manual = manualInvokeSchema.safeParse(raw);
    if (manual.success) return { kind: 'manual', ...manual.data };
    throw new InvalidEventError(
      `Invalid manual invocation payload (expected {"dryRun"?: boolean, "forcePrune"?: boolean}): ${formatIssues(manual.error)}`,
    );
  }
  throw new InvalidEventError(
    `Invalid event: expected an EventBridge "Scheduled Event" or a manual payload: ${formatIssues(scheduled.error)}`,
  );
}

/**
 * The configuration for this run: a manual payload may turn on dry run, never off. Forcing past the
 * deletion guard needs the deployment's consent (`allowForcePruneOnInvoke`), not only a payload: the
 * right to invoke the function must not be the right to delete every role.
 */
export function configForTrigger(config: ReconcilerConfig, trigger: ReconcileTrigger): ReconcilerConfig {
  if (trigger.kind === 'schedule') return config;
  if (trigger.forcePrune === true && !config.allowForcePruneOnInvoke) {
    throw new InvalidEventError(
      'forcePrune in an invocation payload is refused: this deployment does not set allowForcePruneOnInvoke ' +
        '(set it in the stage configuration and deploy, or set forcePrune there)',
    );
  }
  return {
    ...config,
    dryRun: config.dryRun || trigger.dryRun === true,
    forcePrune: config.forcePrune || trigger.forcePrune === true,
  };
}
