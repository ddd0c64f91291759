import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest, sendUpstream } from './http-forward';

/**
 * A loopback HTTP front for the emulator that lets the next request a test picks reach moto and be
 * applied there, then closes the connection without answering: the "write landed, answer lost" case
 * (a timeout or reset after S3 committed the object), which loopback never produces by itself. Every
 * other request is forwarded unchanged.
 */

export interface LostAnswerFront {
  endpoint: string;
  /** The next request matching `method` and a path ending in `pathSuffix` is applied, then unanswered. */
  loseNextAnswer(method: string, pathSuffix: string): void;
  /** "METHOD path (status moto gave)" of each request whose answer was withheld. */
  lost: string[];
  stop(): Promise<void>;
}

export async function startLostAnswerFront(target: string): Promise<LostAnswerFront> {
  const upstream = new URL(target);
  const lost: string[] = [];
  let pending: { method: string; pathSuffix: string } | undefined;
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (incoming.url ?? '').split('?')[0] ?? '';
      const picked = pending;
      if (picked === undefined || incoming.method !== picked.method || !path.endsWith(picked.pathSuffix)) {
        forwardRequest(upstream, incoming, outgoing, body);
        return;
      }
      pending = undefined;
      sendUpstream(upstream, incoming, body, (response) => {
        response.resume();
        response.on('end', () => {
          lost.push(`${incoming.method} ${path} (${response.statusCode})`);
          incoming.socket.destroy();
        });
      }).on('error', () => incoming.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    loseNextAnswer: (method, pathSuffix) => {
      pending = { method, pathSuffix };
    },
    lost,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
