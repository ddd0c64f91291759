import { forwardRequest, sendUpstream, startFront } from './http-forward';

/**
 * A loopback HTTP front for the emulator that makes moto's conditional PUT behave as S3's does under
 * contention. moto checks If-Match / If-None-Match and then writes without a lock, so two truly
 * simultaneous writes can both pass (../shared/NOTES.md); here the PUTs to one key go to moto one at a
 * time, each held for `holdMs` first, as S3 takes tens of milliseconds to commit a write where
 * loopback takes one. Every other request is forwarded unchanged and at once.
 */

export interface SerializingFront {
  endpoint: string;
  /** PUTs forwarded to the key, with moto's status, in the order moto saw them. */
  puts: number[];
  /** The most PUTs to the key that were ever at moto at the same time (1 when serialized). */
  maxInFlight: number;
  stop(): Promise<void>;
}

export async function startSerializingFront(
  target: string,
  options: { pathSuffix: string; holdMs: number },
): Promise<SerializingFront> {
  const upstream = new URL(target);
  const front = { puts: [] as number[], maxInFlight: 0 };
  let inFlight = 0;
  let queue: Promise<void> = Promise.resolve();
  const server = await startFront((incoming, outgoing, body, path) => {
    if (incoming.method !== 'PUT' || !path.endsWith(options.pathSuffix)) {
      forwardRequest(upstream, incoming, outgoing, body);
      return;
    }
    queue = queue.then(
      () =>
        new Promise<void>((release) => {
          setTimeout(() => {
            inFlight++;
            front.maxInFlight = Math.max(front.maxInFlight, inFlight);
            sendUpstream(upstream, incoming, body, (response) => {
              const answer: Buffer[] = [];
              response.on('data', (chunk: Buffer) => answer.push(chunk));
              response.on('end', () => {
                inFlight--;
                front.puts.push(response.statusCode ?? 0);
                outgoing.writeHead(response.statusCode ?? 502, response.headers).end(Buffer.concat(answer));
                release();
              });
            }).on('error', (error) => {
              inFlight--;
              outgoing.writeHead(502).end(String(error));
              release();
            });
          }, options.holdMs);
        }),
    );
  });
  return {
    endpoint: server.endpoint,
    get puts() {
      return front.puts;
    },
    get maxInFlight() {
      return front.maxInFlight;
    },
    stop: server.stop,
  };
}
