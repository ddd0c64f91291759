import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { CfnEvent } from '../../../lib/lambda/cfn-event';
import { createLogger, type Logger } from '../../../lib/observability/logger';
import type { ReconcileReport, ReconcilerConfig } from '../../../lib/reconciler/types';
import { testConfig } from '../reconciler/io-support';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'events');

/** A fresh copy of a recorded event, safe to change in one test. */
export function loadEvent(name: 'create' | 'update' | 'delete'): CfnEvent;
export function loadEvent(name: 'scheduled'): Record<string, unknown>;
export function loadEvent(name: string): unknown {
  const file =
    name === 'scheduled'
      ? join(FIXTURES, 'eventbridge', 'scheduled.json')
      : join(FIXTURES, 'cloudformation', `${name}.json`);
  return structuredClone(JSON.parse(readFileSync(file, 'utf8')));
}

/** A Lambda context whose deadline is `remainingMs` after its creation. */
export function lambdaContext(
  remainingMs = 300_000,
  awsRequestId = 'f0e1d2c3-b4a5-4687-9a8b-7c6d5e4f3a2b',
): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'irsa-reconciler-uat-custom-resource',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:irsa-reconciler-uat-custom-resource',
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: '/aws/lambda/irsa-reconciler-uat-custom-resource',
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface CapturedLogs {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
}

export function captureLogs(): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger({ level: 'DEBUG', write: (line) => lines.push(JSON.parse(line)) }) };
}

export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export interface ResponseServer {
  /** A ResponseURL on this server, shaped like CloudFormation's presigned one. */
  responseUrl(path?: string): string;
  requests: CapturedRequest[];
  /** The parsed JSON bodies received, in order. */
  bodies(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * A local HTTP server standing in for CloudFormation's presigned S3 ResponseURL. It answers each
 * request with the next status of `statuses` (then 200) and records method, headers and body.
 */
export async function startResponseServer(statuses: number[] = []): Promise<ResponseServer> {
  const requests: CapturedRequest[] = [];
  const queue = [...statuses];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        receivedAt: Date.now(),
      });
      res.statusCode = queue.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    responseUrl: (path = 'cfn-response') =>
      `http://127.0.0.1:${port}/${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd`,
    requests,
    bodies: () => requests.map((request) => JSON.parse(request.body) as Record<string, unknown>),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A parsed configuration of the `uat` stage. */
export function reconcilerConfig(overrides: Partial<ReconcilerConfig> = {}): ReconcilerConfig {
  return testConfig({ stage: 'uat', rolePath: '/irsa-reconciler/uat/', ...overrides });
}

export function report(overrides: Partial<ReconcileReport> = {}): ReconcileReport {
  return {
    dryRun: false,
    account: { accountId: '123456789012', partition: 'aws' },
    regions: [{ region: 'eu-west-1', status: 'complete', clusters: 2 }],
    results: [],
    skipped: [],
    drift: [],
    counts: { created: 2, updated: 1, deleted: 0, unchanged: 3, skipped: 0, failed: 0 },
    apiCalls: { 'IAM:ListRoles': 1 },
    failed: false,
    ...overrides,
  };
}

/** A loopback port nothing listens on: calls to it fail with ECONNREFUSED. */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ORIGINAL_ENV = { ...process.env };

/**
 * Loads a module afresh with `env` in process.env, the way a Lambda cold start does. The variables stay
 * set (the SDK reads credentials lazily) until restoreEnv(). The module gets its own copy of every
 * import, so compare its errors by name.
 */
export function loadWithEnv<T>(load: () => T, env: Record<string, string>): T {
  process.env = { ...ORIGINAL_ENV, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', ...env };
  let loaded: T | undefined;
  jest.isolateModules(() => {
    loaded = load();
  });
  if (loaded === undefined) throw new Error('module did not load');
  return loaded;
}

export function restoreEnv(): void {
  process.env = { ...ORIGINAL_ENV };
}
