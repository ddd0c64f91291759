import { parseArgs } from 'node:util';
import { createAwsClients } from '../lib/aws/clients';
import { describeError } from '../lib/errors';
import { integerOrText, parseIndexerConfig } from '../lib/helm/config';
import { rebuildIndex } from '../lib/helm/reindexer';
import { createLogger } from '../lib/observability/logger';
import { noMetrics } from '../lib/observability/metrics';

const USAGE = `Usage: tsx scripts/reindex.ts rebuild --bucket BUCKET [options]

Rebuilds the Helm repository index from every chart archive under the prefix.

Options:
  --bucket B         bucket holding the charts (required)
  --prefix P         key prefix of the repository (default "charts/"; "" for the whole bucket)
  --index-key K      key of the index (default "<prefix>index.yaml")
  --base-url URL     absolute base URL for chart URLs (default: URLs relative to the index)
  --concurrency N    charts read at the same time (default 8)
  --max-attempts N   conditional write attempts (default 10)
  --index-format F   yaml (default, as helm repo index) or json (as helm repo index --json)
  --region R         AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1)
  --endpoint URL     S3 endpoint (an emulator); path-style addressing is used
  --dry-run          print the index that would be written and the changes; write nothing
  --force            replace an unreadable index (it is first copied to <index-key>.bak-<timestamp>)
  --verbose          debug logs on stderr

The summary (charts, invalid archives, changes, conflicts, duration) is printed as JSON on stderr;
with --dry-run the index that would be written goes to stdout. Exit codes: 0 done, 1 failed, 2 usage.
`;

/** Exit codes: 0 done, 1 failed, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'rebuild') {
    process.stderr.write(`expected the command "rebuild", got ${JSON.stringify(positionals)}\n\n${USAGE}`);
    return 2;
  }
  const write = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const config = parseIndexerConfig(
      {
        bucket: values.bucket,
        ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
        ...(values['index-key'] === undefined ? {} : { indexKey: values['index-key'] }),
        ...(values['base-url'] === undefined ? {} : { baseUrl: values['base-url'] }),
        concurrency: integerOrText(values.concurrency),
        maxAttempts: integerOrText(values['max-attempts']),
        ...(values['index-format'] === undefined ? {} : { indexFormat: values['index-format'] }),
      },
      {
        bucket: '--bucket',
        prefix: '--prefix',
        indexKey: '--index-key',
        baseUrl: '--base-url',
        concurrency: '--concurrency',
        maxAttempts: '--max-attempts',
        indexFormat: '--index-format',
      },
    );
    const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const clients = createAwsClients({ region, ...(values.endpoint ? { endpoint: values.endpoint } : {}) });
    const summary = await rebuildIndex(
      {
        s3: clients.s3,
        config,
        logger: createLogger({ level: values.verbose ? 'DEBUG' : 'INFO', service: 'helm-reindex', write }),
        metrics: noMetrics,
      },
      { force: values.force ?? false, dryRun: values['dry-run'] ?? false },
    );
    const { index, ...report } = summary;
    if (index !== undefined) process.stdout.write(index);
    write(JSON.stringify(report, null, 2));
    return 0;
  } catch (error) {
    write(`rebuild failed: ${describeError(error)}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      'index-key': { type: 'string' },
      'base-url': { type: 'string' },
      concurrency: { type: 'string' },
      'max-attempts': { type: 'string' },
      'index-format': { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
