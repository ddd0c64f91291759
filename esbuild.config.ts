import type { BuildOptions } from 'esbuild';

/**
 * The options serverless-esbuild bundles each function with (loaded through esbuild.config.cjs,
 * because the plugin `require`s its config file and Node cannot require TypeScript).
 *
 * - Everything is bundled, the AWS SDK v3 included: the handlers run on the exact SDK version the
 *   tests ran with (S3 conditional writes, IfMatch/IfNoneMatch, need a recent client), instead of the
 *   one the Lambda runtime happens to ship; and with no `external` the plugin never runs `npm install`,
 *   so packaging works offline.
 * - The policy templates are imported as JSON modules (lib/reconciler/template-catalog.ts), so they
 *   are inside the bundle: no file is read at run time.
 * - CommonJS output for Node.js 24 on arm64 (the runtime in serverless.yml); @middy/core ships ESM
 *   only and esbuild converts it.
 * - Not minified, with linked source maps and NODE_OPTIONS=--enable-source-maps (serverless.yml), so
 *   stack traces in the logs point at the TypeScript sources.
 */
export interface ServerlessEsbuildOptions extends BuildOptions {
  /** serverless-esbuild: dependencies left out of the bundle and installed with npm (none here). */
  exclude: string[];
  /** serverless-esbuild: bundle the functions one at a time (memory) */
  concurrency?: number;
}

export const NODE_TARGET = 'node24';

export default function esbuildConfig(): ServerlessEsbuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: NODE_TARGET,
    minify: false,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    // Prefer the ESM build of dependencies that ship both: better tree shaking of the SDK.
    mainFields: ['module', 'main'],
    external: [],
    exclude: [],
    legalComments: 'none',
    logLevel: 'warning',
  };
}
