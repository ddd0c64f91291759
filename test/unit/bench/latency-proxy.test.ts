import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EKSClient, ListClustersCommand } from '@aws-sdk/client-eks';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import {
  type LatencyProxy,
  signingService,
  startLatencyProxy,
  ThrottleDecider,
} from '../../../bench/latency-proxy';

const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const LIST_ROLES_XML = `<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult>
  <ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>
</ListRolesResponse>`;

/** A stand-in for the emulator: answers IAM ListRoles and EKS ListClusters, counts what reached it. */
function startUpstream(): Promise<{ endpoint: string; received: string[]; server: Server }> {
  const received: string[] = [];
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const service = signingService(incoming.headers.authorization);
    received.push(service);
    incoming.resume();
    incoming.on('end', () => {
      if (service === 'eks') {
        outgoing.writeHead(200, { 'content-type': 'application/json' });
        outgoing.end(JSON.stringify({ clusters: ['alpha'] }));
      } else {
        outgoing.writeHead(200, { 'content-type': 'text/xml' });
        outgoing.end(LIST_ROLES_XML);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ endpoint: `http://127.0.0.1:${port}`, received, server });
    });
  });
}

/** Quick retries, so the tests do not wait for the SDK's real throttling backoff. */
const quickRetries = (maxAttempts: number) => new ConfiguredRetryStrategy(maxAttempts, () => 5);

type RetryOptions = { maxAttempts: number } | { retryStrategy: ConfiguredRetryStrategy };

function iamThrough(proxy: LatencyProxy, retries: RetryOptions = { maxAttempts: 3 }): IAMClient {
  return new IAMClient({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    credentials: CREDENTIALS,
    ...retries,
  });
}

function eksThrough(proxy: LatencyProxy, retries: RetryOptions = { maxAttempts: 3 }): EKSClient {
  return new EKSClient({
    region: 'eu-west-1',
    endpoint: proxy.endpoint,
    credentials: CREDENTIALS,
    ...retries,
  });
}

describe('the benchmark latency proxy', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let proxy: LatencyProxy | undefined;

  beforeEach(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await new Promise((resolve) => upstream.server.close(resolve));
  });

  it('adds the configured latency to every request it forwards', async () => {
    // Prepare
    proxy = await startLatencyProxy({ target: upstream.endpoint, latencyMs: 60 });
    const iam = iamThrough(proxy);
    await iam.send(new ListRolesCommand({}));

    // Act
    const started = performance.now();
    await Promise.all([1, 2, 3].map(() => iam.send(new ListRolesCommand({}))));
    const parallel = performance.now() - started;
    const sequentialStarted = performance.now();
    for (let i = 0; i < 3; i++) await iam.send(new ListRolesCommand({}));
    const sequential = performance.now() - sequentialStarted;

    // Assess
    expect(parallel).toBeGreaterThanOrEqual(58);
    expect(parallel).toBeLessThan(3 * 58);
    expect(sequential).toBeGreaterThanOrEqual(3 * 58);
    expect(upstream.received).toHaveLength(7);
  });

  it('throttles exactly the configured share of one service and leaves the others alone', async () => {
    // Prepare
    proxy = await startLatencyProxy({ target: upstream.endpoint, throttle: { iam: 0.1 }, seed: 7 });
    const iam = iamThrough(proxy, { maxAttempts: 1 });
    const eks = eksThrough(proxy, { maxAttempts: 1 });

    // Act
    const errors: string[] = [];
    for (let i = 0; i < 200; i++) {
      await iam.send(new ListRolesCommand({})).catch((error: Error) => errors.push(error.name));
    }
    for (let i = 0; i < 20; i++) await eks.send(new ListClustersCommand({}));

    // Assess
    expect(errors).toHaveLength(20);
    expect(new Set(errors)).toEqual(new Set(['Throttling']));
    expect(proxy.stats()).toEqual({
      iam: { requests: 200, throttled: 20 },
      eks: { requests: 20, throttled: 0 },
    });
    expect(upstream.received.filter((service) => service === 'iam')).toHaveLength(180);
  });

  it('answers EKS throttling as a 429 ThrottlingException the SDK recognises', async () => {
    // Prepare
    proxy = await startLatencyProxy({ target: upstream.endpoint, throttle: { eks: 1 }, maxConsecutive: 5 });
    const eks = eksThrough(proxy, { maxAttempts: 1 });

    // Act
    const failure = await eks.send(new ListClustersCommand({})).catch((error: unknown) => error);

    // Assess
    expect(failure).toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 429 },
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('lets the SDK retry through injected throttling until every call succeeds', async () => {
    // Prepare
    proxy = await startLatencyProxy({
      target: upstream.endpoint,
      throttle: { iam: 0.5, eks: 0.5 },
      seed: 42,
      maxConsecutive: 2,
    });
    const iam = iamThrough(proxy, { retryStrategy: quickRetries(3) });
    const eks = eksThrough(proxy, { retryStrategy: quickRetries(3) });

    // Act: one call at a time, so no call can meet more than maxConsecutive throttles
    const roles = [];
    const clusters = [];
    for (let i = 0; i < 10; i++) {
      roles.push(await iam.send(new ListRolesCommand({})));
      clusters.push(await eks.send(new ListClustersCommand({})));
    }

    // Assess
    expect(roles.every((response) => response.Roles?.length === 0)).toBe(true);
    expect(clusters.every((response) => response.clusters?.[0] === 'alpha')).toBe(true);
    const stats = proxy.stats();
    expect(stats.iam?.throttled).toBeGreaterThan(0);
    expect(stats.iam?.requests).toBe(10 + (stats.iam?.throttled ?? 0));
    expect(stats.eks?.requests).toBe(10 + (stats.eks?.throttled ?? 0));
  });

  it('rejects a throttling share outside 0..1', async () => {
    await expect(startLatencyProxy({ target: upstream.endpoint, throttle: { iam: 1.5 } })).rejects.toThrow(
      'throttle.iam must be a share between 0 and 1',
    );
  });
});

describe('ThrottleDecider', () => {
  const decisions = (rate: number, seed: number, count: number, maxConsecutive = 3): boolean[] => {
    const decider = new ThrottleDecider(rate, seed, maxConsecutive);
    return Array.from({ length: count }, () => decider.next());
  };

  it('repeats the same decisions for the same seed and differs for another', () => {
    expect(decisions(0.3, 11, 100)).toEqual(decisions(0.3, 11, 100));
    expect(decisions(0.3, 11, 100)).not.toEqual(decisions(0.3, 12, 100));
  });

  it('keeps the running count of throttles within one of the configured rate', () => {
    for (const rate of [0.05, 0.1, 0.33]) {
      let throttled = 0;
      decisions(rate, 3, 1000).forEach((throttle, index) => {
        if (throttle) throttled++;
        const seen = index + 1;
        expect(throttled).toBeGreaterThanOrEqual(Math.floor(seen * rate));
        expect(throttled).toBeLessThanOrEqual(Math.ceil(seen * rate));
      });
    }
  });

  it('never throttles more than maxConsecutive requests in a row', () => {
    const sequence = decisions(1, 5, 50, 2);
    expect(sequence.slice(0, 6)).toEqual([true, true, false, true, true, false]);
  });
});

describe('signingService', () => {
  it('reads the service from a SigV4 credential scope', () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=abc';
    expect(signingService(header)).toBe('iam');
    expect(signingService(undefined)).toBe('unknown');
  });
});
