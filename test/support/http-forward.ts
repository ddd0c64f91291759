import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** Sends one buffered request to `upstream` unchanged; `onResponse` gets upstream's answer. */
export function sendUpstream(
  upstream: URL,
  incoming: IncomingMessage,
  body: Buffer,
  onResponse: (response: IncomingMessage) => void,
): ClientRequest {
  const forwarded = httpRequest(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    },
    onResponse,
  );
  forwarded.end(body);
  return forwarded;
}

/** Forwards one buffered request to `upstream` unchanged and pipes the answer back (test fronts of moto). */
export function forwardRequest(
  upstream: URL,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  body: Buffer,
): void {
  sendUpstream(upstream, incoming, body, (response) => {
    outgoing.writeHead(response.statusCode ?? 502, response.headers);
    response.pipe(outgoing);
  }).on('error', (error) => outgoing.writeHead(502).end(String(error)));
}

export interface RunningFront {
  endpoint: string;
  stop(): Promise<void>;
}

/** A loopback HTTP server that hands each request, its body buffered and its path without query, to `handle`. */
export async function startFront(
  handle: (incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer, path: string) => void,
): Promise<RunningFront> {
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () =>
      handle(incoming, outgoing, Buffer.concat(chunks), (incoming.url ?? '').split('?')[0] ?? ''),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
