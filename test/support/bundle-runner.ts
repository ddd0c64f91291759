import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_DIR } from './stack-template';

/**
 * Runs the handlers exactly as `npm run package` zipped them, in plain Node: the zip is extracted to a
 * temporary directory outside the repository (so nothing can be resolved from node_modules) and the
 * handler is required by a `node -e` child with no loader or TypeScript hook.
 */

const run = promisify(execFile);

export type InvocationResult =
  | { ok: true; result: unknown; logs: string }
  | { ok: false; error: { name: string; message: string }; logs: string };

const RESULT_MARKER = 'BUNDLE-RESULT ';

/** The child: require the bundle, invoke `handler(event, context)`, print the outcome on one marked line. */
const CHILD_SCRIPT = `
const [modulePath, eventJson] = process.argv.slice(1);
const context = {
  awsRequestId: 'bundle-test-request',
  functionName: 'bundle-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bundle-test',
  memoryLimitInMB: '512',
  logGroupName: '/aws/lambda/bundle-test',
  logStreamName: 'bundle-test',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60000,
  done() {}, fail() {}, succeed() {},
};
const print = (value) => process.stdout.write('\\n${RESULT_MARKER}' + JSON.stringify(value) + '\\n');
Promise.resolve()
  .then(() => require(modulePath).handler(JSON.parse(eventJson), context))
  .then(
    (result) => print({ ok: true, result: result === undefined ? null : result }),
    (error) => print({ ok: false, error: { name: error && error.name, message: error && error.message } }),
  );
`;

/** Extracts one function's zip; the caller removes the directory. */
export async function extractFunctionZip(functionKey: string): Promise<{ dir: string; files: string[] }> {
  const zip = join(PACKAGE_DIR, `${functionKey}.zip`);
  if (!existsSync(zip)) {
    throw new Error(`${zip} is missing: run \`npm run package\` first (scripts/test.sh does it before jest)`);
  }
  const dir = mkdtempSync(join(tmpdir(), `bundle-${functionKey}-`));
  try {
    await run('unzip', ['-q', zip, '-d', dir]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot extract ${zip} with unzip (is the unzip command installed?)`, { cause: error });
  }
  return { dir, files: readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() };
}

/**
 * Invokes `<dir>/<handlerFile>`'s `handler` in a fresh `node` with exactly `env` (plus PATH) as its
 * environment, so the bundle sees what Lambda would give it and nothing of the test process.
 */
export async function invokeBundledHandler(
  dir: string,
  handlerFile: string,
  event: unknown,
  env: Record<string, string>,
): Promise<InvocationResult> {
  const { stdout, stderr } = await run(
    process.execPath,
    ['-e', CHILD_SCRIPT, join(dir, handlerFile), JSON.stringify(event)],
    { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 },
  );
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(RESULT_MARKER));
  if (!line) throw new Error(`the bundle printed no result.\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  return {
    ...(JSON.parse(line.slice(RESULT_MARKER.length)) as object),
    logs: stdout + stderr,
  } as InvocationResult;
}
