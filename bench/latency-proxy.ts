import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP proxy in front of the emulator that makes it behave a little more like AWS:
 * every request waits `latencyMs` before it is forwarded, and a configured share of the requests
 * of a service is answered with that service's own throttling error instead of being forwarded.
 *
 * Throttling is deterministic: the k-th request of a service is throttled or not by a seeded
 * pseudo-random draw, corrected so that after k requests the number throttled is always
 * floor(k × rate) or ceil(k × rate), and never more than `maxConsecutive` in a row. The same seed and
 * the same request order give the same decisions, and the injected rate is exact, not just expected.
 */
export interface LatencyProxyOptions {
  /** Upstream base URL, e.g. the moto server's `http://127.0.0.1:5000`. */
  target: string;
  /** Added to every request (throttled ones too: the error still costs a round trip). */
  latencyMs?: number;
  /** Share of the requests to throttle per service (signing name: `iam`, `eks`, `sts`, `s3`), 0..1. */
  throttle?: Partial<Record<string, number>>;
  /** Seed of the throttling decisions. */
  seed?: number;
  /** Upper bound on throttled requests in a row for one service, so retries always get through. */
  maxConsecutive?: number;
}

export interface ServiceStats {
  requests: number;
  throttled: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:<port>`: give it to the SDK clients as their endpoint. */
  endpoint: string;
  /** Requests and throttled responses per service since start (or the last resetStats). */
  stats(): Record<string, ServiceStats>;
  resetStats(): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_CONSECUTIVE = 3;

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const latencyMs = options.latencyMs ?? 0;
  const maxConsecutive = options.maxConsecutive ?? DEFAULT_MAX_CONSECUTIVE;
  validateOptions(options, latencyMs, maxConsecutive);
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const deciders = new Map<string, ThrottleDecider>();
  const stats = new Map<string, ServiceStats>();

  const decide = (service: string): boolean => {
    const rate = options.throttle?.[service] ?? 0;
    let decider = deciders.get(service);
    if (!decider) {
      decider = new ThrottleDecider(rate, mixSeed(options.seed ?? 1, service), maxConsecutive);
      deciders.set(service, decider);
    }
    return decider.next();
  };

  const handle = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const service = signingService(incoming.headers.authorization);
    const throttled = decide(service);
    const entry = stats.get(service) ?? { requests: 0, throttled: 0 };
    entry.requests++;
    if (throttled) entry.throttled++;
    stats.set(service, entry);

    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      setTimeout(() => {
        if (throttled) sendThrottle(service, outgoing);
        else forward(incoming, Buffer.concat(chunks), outgoing);
      }, latencyMs);
    });
  };

  const forward = (incoming: IncomingMessage, body: Buffer, outgoing: ServerResponse): void => {
    const upstream = request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, 'content-length': String(body.length) },
        agent,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`latency proxy: upstream failed: ${error.message}`);
    });
    upstream.end(body);
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => Object.fromEntries([...stats.entries()].map(([service, value]) => [service, { ...value }])),
    resetStats: () => stats.clear(),
    close: () => closeServer(server, agent),
  };
}

function validateOptions(options: LatencyProxyOptions, latencyMs: number, maxConsecutive: number): void {
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new RangeError(`latencyMs must be a non-negative number, got ${latencyMs}`);
  }
  if (!Number.isInteger(maxConsecutive) || maxConsecutive < 1) {
    throw new RangeError(`maxConsecutive must be a positive integer, got ${maxConsecutive}`);
  }
  for (const [service, rate] of Object.entries(options.throttle ?? {})) {
    if (rate === undefined || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new RangeError(`throttle.${service} must be a share between 0 and 1, got ${rate}`);
    }
  }
}

/** The SigV4 signing name from `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function signingService(authorization: string | undefined): string {
  const match = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return match?.[1] ?? 'unknown';
}

/** Each service's throttling error, as the SDK's retry classification expects it. */
function sendThrottle(service: string, outgoing: ServerResponse): void {
  const requestId = randomUUID();
  if (service === 'eks') {
    // restJson1: the error type travels in a header; 429 is throttling by status alone too.
    outgoing.writeHead(429, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'ThrottlingException',
      'x-amzn-requestid': requestId,
    });
    outgoing.end(JSON.stringify({ message: 'Rate exceeded' }));
    return;
  }
  if (service === 's3') {
    outgoing.writeHead(503, { 'content-type': 'application/xml', 'x-amz-request-id': requestId });
    outgoing.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>${requestId}</RequestId></Error>`,
    );
    return;
  }
  // awsQuery (IAM, STS): the Query API error document, HTTP 400.
  const namespace =
    service === 'sts'
      ? 'https://sts.amazonaws.com/doc/2011-06-15/'
      : 'https://iam.amazonaws.com/doc/2010-05-08/';
  outgoing.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  outgoing.end(
    `<ErrorResponse xmlns="${namespace}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>Throttling</Code>\n    <Message>Rate exceeded</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
  );
}

/**
 * Seeded throttling decisions for one service: random, but the running count stays within one of
 * k × rate and runs of throttles are bounded.
 */
export class ThrottleDecider {
  private seen = 0;
  private throttled = 0;
  private run = 0;
  private readonly random: () => number;

  constructor(
    private readonly rate: number,
    seed: number,
    private readonly maxConsecutive: number,
  ) {
    this.random = mulberry32(seed);
  }

  next(): boolean {
    const k = this.seen + 1;
    const low = Math.floor(k * this.rate);
    const high = Math.ceil(k * this.rate);
    let throttle: boolean;
    if (this.throttled + 1 <= low) throttle = true;
    else if (this.throttled + 1 > high) throttle = false;
    else throttle = this.random() < this.rate;
    if (throttle && this.run >= this.maxConsecutive) throttle = false;
    this.seen = k;
    if (throttle) {
      this.throttled++;
      this.run++;
    } else {
      this.run = 0;
    }
    return throttle;
  }
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mixSeed(seed: number, service: string): number {
  let hash = seed >>> 0;
  for (const char of service) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

function closeServer(server: Server, agent: Agent): Promise<void> {
  agent.destroy();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
