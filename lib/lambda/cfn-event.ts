import { z } from 'zod';
import { InvalidEventError } from '../errors';
import { formatIssues } from '../util/zod-issues';

/** Where a custom resource answer goes, and the ids CloudFormation matches it against. */
export interface CfnResponseTarget {
  responseUrl: string;
  stackId: string;
  requestId: string;
  logicalResourceId: string;
}

const nonEmpty = z.string().min(1);
const responseUrl = z.url({ protocol: /^https?$/ });
const properties = z.looseObject({ ServiceToken: nonEmpty });

const common = {
  ServiceToken: nonEmpty,
  ResponseURL: responseUrl,
  StackId: nonEmpty,
  RequestId: nonEmpty,
  LogicalResourceId: nonEmpty,
  ResourceType: nonEmpty,
  ResourceProperties: properties,
};

/** CloudFormation custom resource requests (Lambda-backed), as documented in crpg-ref-requests. */
export const cfnEventSchema = z.discriminatedUnion('RequestType', [
  z.looseObject({ RequestType: z.literal('Create'), ...common }),
  z.looseObject({
    RequestType: z.literal('Update'),
    ...common,
    PhysicalResourceId: nonEmpty,
    OldResourceProperties: z.looseObject({}),
  }),
  z.looseObject({ RequestType: z.literal('Delete'), ...common, PhysicalResourceId: nonEmpty }),
]);

export type CfnEvent = z.infer<typeof cfnEventSchema>;

export function parseCfnEvent(raw: unknown): CfnEvent {
  const result = cfnEventSchema.safeParse(raw);
  if (!result.success) {
    throw new InvalidEventError(
      `Invalid CloudFormation custom resource event: ${formatIssues(result.error)}`,
    );
  }
  return result.data;
}

export function responseTargetOf(event: CfnEvent): CfnResponseTarget {
  return {
    responseUrl: event.ResponseURL,
    stackId: event.StackId,
    requestId: event.RequestId,
    logicalResourceId: event.LogicalResourceId,
  };
}

/**
 * The answer address of an event that failed validation, when it still has a usable ResponseURL:
 * CloudFormation must hear FAILED instead of waiting for its timeout. Missing ids are sent empty.
 */
export function recoverResponseTarget(raw: unknown): CfnResponseTarget | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  if (!responseUrl.safeParse(record.ResponseURL).success) return undefined;
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  return {
    responseUrl: text(record.ResponseURL),
    stackId: text(record.StackId),
    requestId: text(record.RequestId),
    logicalResourceId: text(record.LogicalResourceId),
  };
}

/** A presigned S3 URL: `https://<bucket>.s3[.-]<region>.amazonaws.com[.cn]/...` or path style. */
const S3_HOST = /^([a-z0-9][a-z0-9.-]*\.)?s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface ResponseUrlPolicy {
  /** Loopback http URLs too: the local emulator only (the handlers allow it when AWS_ENDPOINT_URL is set). */
  allowLoopbackHttp: boolean;
}

/**
 * Whether a ResponseURL is one CloudFormation would send: https on an S3 host, no credentials in it.
 * Anything else is never answered: an invoker must not make the function send requests to a host of
 * its choosing.
 */
export function isTrustedResponseUrl(value: string, policy: ResponseUrlPolicy): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:' && S3_HOST.test(url.hostname) && url.port === '') return true;
  return policy.allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** The event's PhysicalResourceId if it has one (Update, Delete), even in an invalid event. */
export function physicalResourceIdOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = (raw as Record<string, unknown>).PhysicalResourceId;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
