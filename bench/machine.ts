import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { TOOLS_DIR } from '../test/support/moto-server';
import { helmVersion } from './indexer/helm';

/** The machine and tools a result was measured on: numbers mean little without them. */
export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  /** 1-minute load average when the benchmark started (other work on the machine skews results). */
  loadAverage: number;
  os: string;
  node: string;
  moto: string;
  helm: string;
  awsSdk: string;
  gitCommit: string;
  /** Source files (lib/, functions/) that differ from the commit: the tree is shared while others work. */
  uncommittedSourceFiles: number;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: currentLoadAverage(),
    os: osName(),
    node: process.version,
    moto: motoVersion(),
    helm: helmVersion(),
    awsSdk: packageVersion('@aws-sdk/client-iam'),
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    uncommittedSourceFiles: git(['status', '--porcelain', '--', 'lib', 'functions'])
      .split('\n')
      .filter((line) => line.trim() !== '').length,
  };
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1] ?? process.platform;
  } catch {
    return process.platform;
  }
}

function motoVersion(): string {
  try {
    return execFileSync(
      join(TOOLS_DIR, 'venv', 'bin', 'python'),
      ['-c', 'import moto; print(moto.__version__)'],
      {
        encoding: 'utf8',
      },
    ).trim();
  } catch (error) {
    return `unknown (${String(error)})`;
  }
}

function packageVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

export function currentLoadAverage(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', cwd: join(__dirname, '..') }).trim();
  } catch {
    return 'unknown';
  }
}
