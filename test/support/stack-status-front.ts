import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from './http-forward';

/**
 * A loopback HTTP front for the emulator that answers CloudFormation DescribeStacks for the stacks a
 * test registers, with the status the test sets, and forwards every other request to moto unchanged.
 *
 * Why: the custom resource tears down only while its stack is being deleted (DELETE_IN_PROGRESS and the
 * like). moto's CloudFormation cannot hold a stack in such a state (its delete_stack completes at
 * once), so the status a real stack has while CloudFormation waits for the custom resource cannot be
 * arranged there. The answer follows the CloudFormation API model (query protocol, XML, the
 * `ValidationError` "Stack with id ... does not exist" for an unknown stack), so the SDK's own
 * deserialiser reads it as it reads CloudFormation's.
 */

export interface StackStatusFront {
  endpoint: string;
  /** Registers (or changes) a stack's status; unregistered stacks do not exist. */
  setStatus(stackId: string, status: string): void;
  /** DescribeStacks requests answered, by StackName. */
  described: string[];
  stop(): Promise<void>;
}

export async function startStackStatusFront(target: string): Promise<StackStatusFront> {
  const upstream = new URL(target);
  const statuses = new Map<string, string>();
  const described: string[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const params = new URLSearchParams(body.toString('utf8'));
      const isCloudFormation = /\/cloudformation\/aws4_request/.test(String(incoming.headers.authorization));
      if (isCloudFormation && params.get('Action') === 'DescribeStacks') {
        const stackName = params.get('StackName') ?? '';
        described.push(stackName);
        answerDescribeStacks(outgoing, stackName, statuses.get(stackName));
        return;
      }
      forwardRequest(upstream, incoming, outgoing, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setStatus: (stackId, status) => statuses.set(stackId, status),
    described,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function answerDescribeStacks(outgoing: ServerResponse, stackId: string, status: string | undefined): void {
  const requestId = randomUUID();
  if (status === undefined) {
    outgoing
      .writeHead(400, { 'content-type': 'text/xml' })
      .end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>` +
          `<Code>ValidationError</Code><Message>Stack with id ${escapeXml(stackId)} does not exist</Message>` +
          `</Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    return;
  }
  const name = /:stack\/([^/]+)\//.exec(stackId)?.[1] ?? stackId;
  outgoing
    .writeHead(200, { 'content-type': 'text/xml' })
    .end(
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>` +
        `<Stacks><member><StackId>${escapeXml(stackId)}</StackId><StackName>${escapeXml(name)}</StackName>` +
        `<CreationTime>2026-11-22T22:00:00.000Z</CreationTime><StackStatus>${escapeXml(status)}</StackStatus>` +
        `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${requestId}</RequestId>` +
        `</ResponseMetadata></DescribeStacksResponse>`,
    );
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
