import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from './http-forward';

/**
 * A loopback HTTP proxy in front of the emulator that records which AWS action each request is, so a
 * test can hold the calls a bundle made against the IAM policy the template grants it. The action is
 * read from the request itself: the SigV4 credential scope names the service; the query protocol (IAM,
 * STS, CloudFormation, EC2) carries `Action=`; the JSON protocol (SSM, EventBridge, DynamoDB) `X-Amz-Target`; EKS, AppConfig and S3 are REST and are mapped from method and
 * path. An `observe` hook may look at the emulator's state before a request goes through (the tags and
 * boundary a role has when a write reaches it: the request context IAM would evaluate).
 */

export interface RecordedCall {
  /** IAM action name, e.g. `iam:CreateRole`, `s3:GetObject`. */
  action: string;
  method: string;
  path: string;
  /** The region of the request's signature. */
  region: string;
  /** The parameters of a query-protocol request (IAM, STS, CloudFormation), or the top-level string fields of a JSON-protocol one (SSM). */
  params: Record<string, string>;
  /** The whole body of a JSON-protocol request (EventBridge's `Tags` and `Targets` are lists). */
  json?: unknown;
  /** What the `observe` hook saw before the request was forwarded (e.g. the role's tags at that moment). */
  before?: unknown;
}

export interface RecordingProxy {
  endpoint: string;
  calls: RecordedCall[];
  stop(): Promise<void>;
}

export interface RecordingProxyOptions {
  /** Called before a request is forwarded; its answer is kept as `before` (the request waits for it). */
  observe?: (call: RecordedCall) => Promise<unknown>;
}

export async function startRecordingProxy(
  target: string,
  options: RecordingProxyOptions = {},
): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const calls: RecordedCall[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = incoming.method ?? 'GET';
      const url = incoming.url ?? '/';
      const text = body.toString('utf8');
      const call: RecordedCall = {
        action: actionOf(method, url, incoming.headers, text),
        method,
        path: url,
        region: regionOf(incoming.headers),
        params: isQueryBody(incoming.headers)
          ? Object.fromEntries(new URLSearchParams(text))
          : jsonStringFields(incoming.headers, text),
        ...(String(incoming.headers['content-type'] ?? '').startsWith('application/x-amz-json')
          ? { json: parseJson(text) }
          : {}),
      };
      calls.push(call);
      const forward = () => forwardRequest(upstream, incoming, outgoing, body);
      void (options.observe ? options.observe(call) : Promise.resolve(undefined)).then(
        (before) => {
          if (before !== undefined) call.before = before;
          forward();
        },
        (error: unknown) => outgoing.writeHead(502).end(`observe failed: ${String(error)}`),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The region of a signed request's credential scope. */
function regionOf(headers: NodeJS.Dict<string | string[]>): string {
  const authorization = String(headers.authorization ?? '');
  return /Credential=[^/]+\/\d+\/([^/]+)\/[^/]+\/aws4_request/.exec(authorization)?.[1] ?? 'unknown';
}

/** The string fields of an `application/x-amz-json-1.1` body (SSM's `Name`, `Path`). */
function jsonStringFields(headers: NodeJS.Dict<string | string[]>, text: string): Record<string, string> {
  if (!String(headers['content-type'] ?? '').startsWith('application/x-amz-json')) return {};
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
  } catch {
    return {};
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isQueryBody(headers: NodeJS.Dict<string | string[]>): boolean {
  return String(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

/** The service of a signed request: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
function serviceOf(headers: NodeJS.Dict<string | string[]>): string {
  const authorization = String(headers.authorization ?? '');
  return /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization)?.[1] ?? 'unknown';
}

export function actionOf(
  method: string,
  url: string,
  headers: NodeJS.Dict<string | string[]>,
  body: string,
): string {
  const service = serviceOf(headers);
  const parsed = new URL(url, 'http://proxy');
  if (service === 'iam' || service === 'sts' || service === 'cloudformation' || service === 'ec2') {
    const action = new URLSearchParams(body).get('Action') ?? parsed.searchParams.get('Action');
    return `${service}:${action ?? 'unknown'}`;
  }
  if (service === 'ssm' || service === 'events' || service === 'dynamodb') {
    // JSON protocol: the operation is the X-Amz-Target header, `AmazonSSM.<Operation>`, `AWSEvents.<Operation>`.
    const target = String(headers['x-amz-target'] ?? '');
    return `${service}:${target.split('.')[1] ?? 'unknown'}`;
  }
  if (service === 'eks') {
    if (method === 'GET' && parsed.pathname === '/clusters') return 'eks:ListClusters';
    if (method === 'GET' && /^\/clusters\/[^/]+$/.test(parsed.pathname)) return 'eks:DescribeCluster';
    return `eks:unknown ${method} ${parsed.pathname}`;
  }
  if (service === 'appconfig') {
    if (
      method === 'GET' &&
      /^\/applications\/[^/]+\/configurationprofiles\/[^/]+\/hostedconfigurationversions\/[^/]+$/.test(
        parsed.pathname,
      )
    ) {
      return 'appconfig:GetHostedConfigurationVersion';
    }
    return `appconfig:unknown ${method} ${parsed.pathname}`;
  }
  if (service === 's3') {
    const isBucket = parsed.pathname.split('/').filter(Boolean).length === 1;
    if (method === 'GET' && isBucket && parsed.searchParams.has('list-type')) return 's3:ListBucket';
    if ((method === 'GET' || method === 'HEAD') && !isBucket) return 's3:GetObject';
    if (method === 'PUT' && !isBucket) return headers['x-amz-copy-source'] ? 's3:CopyObject' : 's3:PutObject';
    return `s3:unknown ${method} ${parsed.pathname}${parsed.search}`;
  }
  return `${service}:unknown ${method} ${parsed.pathname}`;
}
