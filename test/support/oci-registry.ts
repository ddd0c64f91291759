import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLS_DIR } from './moto-server';

/**
 * A real OCI registry for the tests: go-containerregistry's in-memory registry (built by
 * scripts/setup-tools.sh), on a free loopback port. It speaks the distribution API as ECR and other
 * registries do, without authentication.
 */

export const REGISTRY_BIN = join(TOOLS_DIR, 'bin', 'registry');

export interface OciRegistryServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** `127.0.0.1:<port>`, as helm names it in `oci://` references. */
  host: string;
  stop(): Promise<void>;
}

export async function startOciRegistry(): Promise<OciRegistryServer> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing: run "bash scripts/setup-tools.sh" first`);
  }
  const child: ChildProcess = spawn(REGISTRY_BIN, ['-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the registry did not start: ${seen}`)), 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /serving on port (\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the registry exited with ${code}: ${seen}`)));
  });
  // The registry listens on "localhost"; helm and fetch reach it by address.
  const host = `127.0.0.1:${port}`;
  return {
    endpoint: `http://${host}`,
    host,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
