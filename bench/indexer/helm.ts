import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HELM_BIN } from '../../test/support/moto-server';

/** GNU time: the only portable way to read a child's peak RSS (ru_maxrss) from Node. */
export const TIME_BIN = '/usr/bin/time';

export interface HelmRun {
  wallMs: number;
  peakRssMb: number;
}

/** Runs the real helm client with `args`; wall time from spawn to exit, peak RSS from GNU time. */
export async function runHelm(args: string[]): Promise<HelmRun> {
  for (const bin of [HELM_BIN, TIME_BIN]) {
    if (!existsSync(bin))
      throw new Error(`${bin} not found (run "npm run setup"; GNU time comes with the OS)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'irsa-bench-helm-'));
  const rusageFile = join(dir, 'rusage');
  try {
    const started = performance.now();
    const child = spawn(TIME_BIN, ['-o', rusageFile, '-f', '%M', HELM_BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const wallMs = Math.round(performance.now() - started);
    if (code !== 0) throw new Error(`helm ${args.join(' ')} exited with ${code}:\n${stderr}`);
    const maxRssKb = Number(readFileSync(rusageFile, 'utf8').trim().split('\n').pop());
    return { wallMs, peakRssMb: Math.round((maxRssKb / 1024) * 10) / 10 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The helm module version the binary was built from (`go version -m`: setup-tools builds it with
 * go install, which leaves `helm version` at the short form), with its Go version.
 */
export function helmVersion(): string {
  try {
    const info = execFileSync('go', ['version', '-m', HELM_BIN], { encoding: 'utf8' });
    const module = /^\s+mod\s+helm\.sh\/helm\/v3\s+(\S+)/m.exec(info)?.[1];
    const go = /^\S+: (go\S+)/.exec(info)?.[1];
    if (module) return `${module} (${go ?? 'go'})`;
  } catch {
    // fall through to helm's own report
  }
  return execFileSync(HELM_BIN, ['version', '--short'], { encoding: 'utf8' }).trim();
}
