import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildSync } from 'esbuild';

/**
 * Each measured scenario runs in its own Node process, so its peak memory is its own: the parent
 * (moto seeding, the latency proxy, earlier scenarios) never inflates it. The parent passes the
 * input as JSON in a file and reads the child's JSON result back from another.
 *
 * The child is an esbuild bundle run by plain `node`, built with the options the Lambda packages use
 * (esbuild.config.ts: everything bundled, CommonJS): its memory and start-up are those of the
 * deployed code, not of a TypeScript loader.
 */

/** Memory of one measured process. */
export interface MemoryUsage {
  /** Peak resident set size of the whole process (getrusage ru_maxrss). */
  peakRssMb: number;
  /** Resident set size just before the measured work started (runtime, SDK and code loaded). */
  baselineRssMb: number;
  /** Highest V8 heap in use, sampled every 5 ms during the work. */
  peakHeapMb: number;
}

export interface ChildOutcome<R> {
  result: R;
  memory: MemoryUsage;
  /** Spawn to exit, as the parent saw it: the work plus Node's start-up and module loading. */
  processWallMs: number;
}

const INPUT_ENV = 'BENCH_CHILD_INPUT';
const OUTPUT_ENV = 'BENCH_CHILD_OUTPUT';

const bundles = new Map<string, string>();
let bundleDir: string | undefined;

/** Bundles `script` once per benchmark run (like the Lambda packages); returns the bundle's path. */
export function bundle(script: string): string {
  const cached = bundles.get(script);
  if (cached) return cached;
  bundleDir ??= mkdtempSync(join(tmpdir(), 'irsa-bench-bundles-'));
  const outfile = join(bundleDir, `${bundles.size}-${basename(script, '.ts')}.js`);
  buildSync({
    entryPoints: [script],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });
  bundles.set(script, outfile);
  return outfile;
}

/** Removes the bundles built so far. */
export function removeBundles(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  bundleDir = undefined;
  bundles.clear();
}

/** Parent side: runs `script` (a TypeScript file, bundled) with `input`; returns its result or throws with its stderr. */
export async function runChild<I, R>(
  script: string,
  input: I,
  timeoutMs = 20 * 60_000,
): Promise<ChildOutcome<R>> {
  const code = bundle(script);
  const dir = mkdtempSync(join(tmpdir(), 'irsa-bench-child-'));
  const inputFile = join(dir, 'input.json');
  const outputFile = join(dir, 'output.json');
  writeFileSync(inputFile, JSON.stringify(input));
  try {
    const started = performance.now();
    const child = spawn(process.execPath, [code], {
      env: { ...process.env, [INPUT_ENV]: inputFile, [OUTPUT_ENV]: outputFile },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    clearTimeout(timer);
    if (exitCode !== 0) throw new Error(`${script} exited with ${exitCode ?? 'a signal'}:\n${stderr}`);
    const outcome = JSON.parse(readFileSync(outputFile, 'utf8')) as Omit<ChildOutcome<R>, 'processWallMs'>;
    return { ...outcome, processWallMs: Math.round(performance.now() - started) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Child side: reads the input, runs `work` while sampling the heap, writes the result and the
 * process's memory. The process exits non-zero if `work` throws.
 */
export async function childMain<I, R>(work: (input: I) => Promise<R>): Promise<void> {
  const inputFile = process.env[INPUT_ENV];
  const outputFile = process.env[OUTPUT_ENV];
  if (!inputFile || !outputFile)
    throw new Error(`run this script through runChild (${INPUT_ENV} is not set)`);
  const input = JSON.parse(readFileSync(inputFile, 'utf8')) as I;
  const baselineRss = process.memoryUsage.rss();
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 5);
  try {
    const result = await work(input);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    const outcome: Omit<ChildOutcome<R>, 'processWallMs'> = {
      result,
      memory: {
        peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
        baselineRssMb: mb(baselineRss),
        peakHeapMb: mb(peakHeap),
      },
    };
    writeFileSync(outputFile, JSON.stringify(outcome));
  } finally {
    clearInterval(sampler);
  }
}

export function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/** Entry point of a child script: runs `work` through childMain; any failure exits the process with 1. */
export function childEntry<I, R>(work: (input: I) => Promise<R>): void {
  childMain(work).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
