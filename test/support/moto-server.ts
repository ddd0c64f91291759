import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const TOOLS_DIR = join(__dirname, '..', '..', '.tools');
export const MOTO_SERVER_BIN = join(TOOLS_DIR, 'venv', 'bin', 'moto_server');
export const HELM_BIN = join(TOOLS_DIR, 'bin', 'helm');
export const CFN_LINT_BIN = join(TOOLS_DIR, 'venv', 'bin', 'cfn-lint');

/** Fake static credentials: moto accepts any, and no real account is ever reachable from tests. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
/** moto's default account id. */
export const EMULATOR_ACCOUNT_ID = '123456789012';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Clears every resource in every region (moto's reset API). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts moto in server mode on a free loopback port. Missing tools are a failure, never a skip:
 * `npm test` installs them first (scripts/setup-tools.sh).
 */
export async function startMotoServer(): Promise<MotoServer> {
  if (!existsSync(MOTO_SERVER_BIN)) {
    throw new Error(
      `moto_server not found at ${MOTO_SERVER_BIN}: run "npm run setup" (scripts/setup-tools.sh) first`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(MOTO_SERVER_BIN, ['-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false' },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(endpoint, child);
      return {
        endpoint,
        port,
        reset: async () => {
          const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
          if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
        },
        stop: () => stopChild(child),
      };
    } catch (error) {
      await stopChild(child);
      if (attempt >= 3) throw new Error(`moto_server did not start: ${String(error)}\n${stderr}`);
    }
  }
}

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('moto_server was not ready after 30 s');
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('could not allocate a port'));
      });
    });
  });
}
