import {
  buildResponseBody,
  CfnResponseError,
  createResponder,
  MAX_RESPONSE_BYTES,
  putResponse,
} from '../../../lib/lambda/cfn-response';
import { captureLogs, type ResponseServer, startResponseServer } from './support';

const TARGET = {
  responseUrl: 'https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x?sig=1',
  stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/irsa-reconciler-uat/5b8f2a10',
  requestId: '9d2f7c1e-4b3a-4e6f-8a1d-2c5b7e9f0a13',
  logicalResourceId: 'IrsaReconciler',
};

describe('buildResponseBody', () => {
  it('carries the ids CloudFormation matches, the status and the Data', () => {
    const body = JSON.parse(
      buildResponseBody(TARGET, {
        status: 'SUCCESS',
        physicalResourceId: 'irsa-reconciler-uat',
        data: { Created: '2' },
      }),
    );

    expect(body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'irsa-reconciler-uat',
      StackId: TARGET.stackId,
      RequestId: TARGET.requestId,
      LogicalResourceId: 'IrsaReconciler',
      Data: { Created: '2' },
    });
  });

  it('always gives a FAILED response a Reason', () => {
    const body = JSON.parse(
      buildResponseBody(TARGET, { status: 'FAILED', physicalResourceId: 'p', reason: '  ' }),
    );

    expect(body.Reason).toBe('Unknown error');
  });

  it('puts a multi-line Reason on one line', () => {
    const body = JSON.parse(
      buildResponseBody(TARGET, {
        status: 'FAILED',
        physicalResourceId: 'p',
        reason: 'SyntaxError: bad\n  Deserialization error',
      }),
    );

    expect(body.Reason).toBe('SyntaxError: bad Deserialization error');
  });

  it('sets NoEcho only when asked', () => {
    const plain = JSON.parse(buildResponseBody(TARGET, { status: 'SUCCESS', physicalResourceId: 'p' }));
    const hidden = JSON.parse(
      buildResponseBody(TARGET, { status: 'SUCCESS', physicalResourceId: 'p', noEcho: true }),
    );

    expect(plain).not.toHaveProperty('NoEcho');
    expect(hidden.NoEcho).toBe(true);
  });

  it('shortens a long Reason to fit in 4,096 bytes, counting multi-byte characters', () => {
    // Prepare
    const reason = `region us-west-2 unknown (ECONNREFUSED) ${'é€'.repeat(3_000)}`;

    // Act
    const body = buildResponseBody(TARGET, { status: 'FAILED', physicalResourceId: 'p', reason });

    // Assess
    const parsed = JSON.parse(body);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_RESPONSE_BYTES - 8);
    expect(parsed.Reason.startsWith('region us-west-2 unknown (ECONNREFUSED)')).toBe(true);
    expect(parsed.Reason.endsWith('…')).toBe(true);
  });

  it('drops Data that cannot fit and says so in the Reason', () => {
    // Prepare
    const data = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`Key${i}`, 'x'.repeat(30)]));

    // Act
    const body = buildResponseBody(TARGET, {
      status: 'SUCCESS',
      physicalResourceId: 'p',
      reason: 'done',
      data,
    });

    // Assess
    const parsed = JSON.parse(body);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(parsed).not.toHaveProperty('Data');
    expect(parsed.Reason).toContain('Data omitted');
  });
});

describe('putResponse', () => {
  let server: ResponseServer;
  afterEach(async () => {
    await server.close();
  });

  it('PUTs the body with an empty content type and its byte length', async () => {
    // Prepare
    server = await startResponseServer();
    const body = JSON.stringify({ Status: 'SUCCESS', Reason: 'prêt' });

    // Act
    await putResponse(server.responseUrl(), body);

    // Assess
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('PUT');
    expect(request?.url).toContain('X-Amz-Signature=0123abcd');
    expect(request?.headers['content-type']).toBe('');
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(request?.body).toBe(body);
  });

  it('retries a 5xx answer with backoff and stops at the first success', async () => {
    // Prepare
    server = await startResponseServer([503, 500]);
    const delays: number[] = [];
    const sleep = async (ms: number) => {
      delays.push(ms);
    };

    // Act
    await putResponse(server.responseUrl(), '{}', { sleep, baseDelayMs: 100 });

    // Assess
    expect(server.requests).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
  });

  it('does not retry a 403 (an expired or tampered presigned URL)', async () => {
    server = await startResponseServer([403]);

    const sending = putResponse(server.responseUrl(), '{}', { sleep: async () => undefined });

    await expect(sending).rejects.toThrow('PUT to ResponseURL answered HTTP 403');
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after the last attempt with an error naming the cause', async () => {
    server = await startResponseServer([502, 502, 502]);

    const sending = putResponse(server.responseUrl(), '{}', { attempts: 3, sleep: async () => undefined });

    await expect(sending).rejects.toBeInstanceOf(CfnResponseError);
    await expect(sending).rejects.toThrow('HTTP 502');
    expect(server.requests).toHaveLength(3);
  });

  it('retries network errors', async () => {
    // Prepare: a port nothing listens on any more
    server = await startResponseServer();
    const url = server.responseUrl();
    await server.close();
    server = await startResponseServer();
    const attempts: number[] = [];

    // Act
    const sending = putResponse(url, '{}', { attempts: 2, sleep: async (ms) => void attempts.push(ms) });

    // Assess
    await expect(sending).rejects.toThrow(/PUT to ResponseURL failed: .*ECONNREFUSED/);
    expect(attempts).toHaveLength(1);
  });
});

describe('createResponder', () => {
  it('sends only the first outcome and logs the dropped one', async () => {
    // Prepare
    const send = jest.fn(async () => undefined);
    const { logger, lines } = captureLogs();
    const responder = createResponder(TARGET, send, logger);

    // Act
    const first = responder.send({ status: 'FAILED', physicalResourceId: 'p', reason: 'timed out' });
    const second = responder.send({ status: 'SUCCESS', physicalResourceId: 'p' });

    // Assess
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(send).toHaveBeenCalledTimes(1);
    expect(JSON.parse((send.mock.calls[0] as unknown as [string, string])[1]).Status).toBe('FAILED');
    expect(responder.sent).toBe(true);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'WARN', droppedStatus: 'SUCCESS', sentStatus: 'FAILED' }),
    );
  });
});
