import { forwardRequest, sendUpstream, startFront } from './http-forward';

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
  const front = await startFront((incoming, outgoing, body, path) => {
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
  return {
    endpoint: front.endpoint,
    loseNextAnswer: (method, pathSuffix) => {
      pending = { method, pathSuffix };
    },
    lost,
    stop: front.stop,
  };
}
