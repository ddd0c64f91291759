import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';

/** Forwards one buffered request to `upstream` unchanged and pipes the answer back (test fronts of moto). */
export function forwardRequest(
  upstream: URL,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  body: Buffer,
): void {
  const forwarded = httpRequest(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    },
    (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    },
  );
  forwarded.on('error', (error) => outgoing.writeHead(502).end(String(error)));
  forwarded.end(body);
}
