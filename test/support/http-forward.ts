import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';

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
