import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { IrsaReconcilerError } from '../errors';
import type { Logger } from '../observability/logger';
import type { CfnResponseTarget } from './cfn-event';

/** CloudFormation rejects response bodies over 4,096 bytes. */
export const MAX_RESPONSE_BYTES = 4096;

export interface CfnOutcome {
  status: 'SUCCESS' | 'FAILED';
  /** Required when FAILED; a readable sentence, never a serialised error object. */
  reason?: string;
  physicalResourceId: string;
  /** Values for Fn::GetAtt; CloudFormation expects strings. */
  data?: Record<string, string>;
  noEcho?: boolean;
}

/** PUTs one response body to a ResponseURL. Injected so tests can capture or fail it. */
export type SendResponse = (responseUrl: string, body: string) => Promise<void>;

/** The response could not be delivered; the invocation must fail so Lambda retries it. */
export class CfnResponseError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super(message, { retryable: true, ...options });
    this.name = 'CfnResponseError';
  }
}

/**
 * The JSON body CloudFormation expects, always within MAX_RESPONSE_BYTES: the Reason is shortened
 * first, then Data is dropped (its keys would be unusable half-sent) and the Reason says so.
 */
export function buildResponseBody(target: CfnResponseTarget, outcome: CfnOutcome): string {
  const oneLine = outcome.reason?.replace(/\s+/g, ' ').trim();
  const reason = outcome.status === 'FAILED' ? oneLine || 'Unknown error' : oneLine;
  const render = (reasonText: string | undefined, data: Record<string, string> | undefined): string =>
    JSON.stringify({
      Status: outcome.status,
      ...(reasonText !== undefined ? { Reason: reasonText } : {}),
      PhysicalResourceId: outcome.physicalResourceId,
      StackId: target.stackId,
      RequestId: target.requestId,
      LogicalResourceId: target.logicalResourceId,
      ...(outcome.noEcho ? { NoEcho: true } : {}),
      ...(data ? { Data: data } : {}),
    });
  const full = render(reason, outcome.data);
  if (Buffer.byteLength(full) <= MAX_RESPONSE_BYTES) return full;
  const withData = fitReason(reason ?? '', (text) => render(text, outcome.data));
  if (withData !== undefined) return withData;
  const withoutData = fitReason(`${reason ?? ''} [Data omitted: over the 4096-byte limit]`, (text) =>
    render(text, undefined),
  );
  if (withoutData !== undefined) return withoutData;
  throw new CfnResponseError('CloudFormation response exceeds 4096 bytes even without Reason and Data', {
    retryable: false,
  });
}

const ELLIPSIS = '…';

/** The longest prefix of `reason` (plus an ellipsis) whose rendered body fits, or undefined. */
function fitReason(reason: string, render: (reason: string) => string): string | undefined {
  const fits = (body: string): boolean => Buffer.byteLength(body) <= MAX_RESPONSE_BYTES;
  const whole = render(reason);
  if (fits(whole)) return whole;
  const chars = Array.from(reason);
  let low = 0;
  let high = chars.length - 1;
  let best: string | undefined;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    const body = render(chars.slice(0, middle).join('') + ELLIPSIS);
    if (fits(body)) {
      best = body;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return best;
}

export interface PutResponseOptions {
  /** Attempts in all, including the first. */
  attempts?: number;
  baseDelayMs?: number;
  /** Per-attempt socket timeout. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * PUTs the body to a presigned ResponseURL with the empty content type the S3 signature expects.
 * Network errors, 5xx and 429 are retried with exponential backoff; any other status is final.
 */
export async function putResponse(
  responseUrl: string,
  body: string,
  options: PutResponseOptions = {},
): Promise<void> {
  const attempts = options.attempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      await putOnce(responseUrl, body, options.timeoutMs ?? 5_000);
      return;
    } catch (error) {
      const retryable = !(error instanceof CfnResponseError) || error.retryable;
      if (!retryable || attempt >= attempts) {
        throw error instanceof CfnResponseError
          ? error
          : new CfnResponseError(`PUT to ResponseURL failed: ${(error as Error).message}`, { cause: error });
      }
      await sleep(baseDelayMs * 2 ** (attempt - 1));
    }
  }
}

function putOnce(responseUrl: string, body: string, timeoutMs: number): Promise<void> {
  const url = new URL(responseUrl);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text = (text + chunk).slice(0, 500);
        });
        res.on('end', () => {
          if (status >= 200 && status < 300) resolve();
          else {
            reject(
              new CfnResponseError(`PUT to ResponseURL answered HTTP ${status}: ${text.trim()}`, {
                retryable: status >= 500 || status === 429,
              }),
            );
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface Responder {
  /** Sends the outcome unless a response was already sent; returns whether this call sent it. */
  send(outcome: CfnOutcome): Promise<boolean>;
  readonly sent: boolean;
}

/**
 * One response per request: the first caller (handler result, error path or timeout guard) wins and
 * later outcomes are logged and dropped, so CloudFormation never sees two answers.
 */
export function createResponder(
  target: CfnResponseTarget,
  sendResponse: SendResponse,
  logger: Logger,
): Responder {
  let claimed: CfnOutcome | undefined;
  return {
    get sent() {
      return claimed !== undefined;
    },
    async send(outcome) {
      if (claimed) {
        logger.warn('CloudFormation response already sent; dropping a later outcome', {
          sentStatus: claimed.status,
          droppedStatus: outcome.status,
          droppedReason: outcome.reason,
        });
        return false;
      }
      claimed = outcome;
      const body = buildResponseBody(target, outcome);
      await sendResponse(target.responseUrl, body);
      logger.info('CloudFormation response sent', {
        status: outcome.status,
        reason: outcome.reason,
        physicalResourceId: outcome.physicalResourceId,
        bytes: Buffer.byteLength(body),
      });
      return true;
    },
  };
}
