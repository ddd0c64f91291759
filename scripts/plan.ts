import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { AwsCredentialIdentity } from '@smithy/types';
import { parse as parseYaml } from 'yaml';
import { createAwsClients } from '../lib/aws/clients';
import { ConfigError, describeError } from '../lib/errors';
import { createLogger } from '../lib/observability/logger';
import { parseReconcilerConfig } from '../lib/reconciler/config/schema';
import { reconcile } from '../lib/reconciler/index';
import { discoverAccount } from '../lib/reconciler/observe/discovery';
import { formatReportTable, hasChanges } from '../lib/reconciler/report';
import type { ReconcileReport, ReconcilerConfig } from '../lib/reconciler/types';

const USAGE = `Usage: npm run plan -- --stage STAGE [options]
       npm run apply -- --stage STAGE [--yes] [options]

Runs the reconciler locally with your AWS credentials and the stage's configuration (config/STAGE.yml,
as the stack would deploy it): plan shows what it would change and writes nothing; apply shows the plan,
asks, then applies it.

Options:
  --stage S          the stage (config/S.yml) (required)
  --json             print the report as JSON (for machines) instead of the table
  --yes              apply without asking (apply only)
  --template FILE    the packaged template to read the configuration from (default: package the stage now)
  --token NAME=VALUE the value of a stack token the configuration uses (AppConfigApplication=abc1234, ...)
  --endpoint URL     endpoint of every AWS service (the local emulator)

Exit codes of plan, as terraform plan -detailed-exitcode: 0 nothing to change, 2 changes planned,
1 error (bad usage, a failed read, an unknown region). Of apply: 0 applied (or nothing to change),
1 error or a failed action, 3 declined at the prompt.
`;

export interface PlanDeps {
  /** Credentials for the AWS calls (default: the SDK's default chain). */
  credentials?: AwsCredentialIdentity;
  /** Where the table or JSON goes (default stdout) and the progress lines (default stderr). */
  out?: (text: string) => void;
  err?: (text: string) => void;
  /** Asks a yes/no question (default: the terminal). */
  confirm?: (question: string) => Promise<boolean>;
}

const REPO_ROOT = join(__dirname, '..');

/** The command's exit code. */
export async function main(argv: string[], deps: PlanDeps = {}): Promise<number> {
  const out = deps.out ?? ((text: string) => process.stdout.write(text));
  const err = deps.err ?? ((text: string) => process.stderr.write(text));
  let options: PlanOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    err(`${describeError(error)}\n\n${USAGE}`);
    return 1;
  }
  if (options.help) {
    out(USAGE);
    return 0;
  }
  try {
    const region = stageRegion(options.stage);
    const clients = createAwsClients({
      region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(deps.credentials ? { credentials: deps.credentials } : {}),
    });
    const logger = createLogger({ level: 'WARN', write: (line) => err(`${line}\n`) });
    const account = await discoverAccount({ clients, logger });
    const template = options.template ?? packageStage(options.stage, err);
    const config = deployedConfig(template, options.stage, region, {
      'AWS::AccountId': account.accountId,
      'AWS::Partition': account.partition,
      'AWS::Region': region,
      'AWS::URLSuffix': account.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
      DataBucket: `irsa-reconciler-${options.stage}-data-${account.accountId}`,
      ChartBucket: `irsa-reconciler-${options.stage}-charts-${account.accountId}`,
      WorkloadBoundary: `arn:${account.partition}:iam::${account.accountId}:policy/irsa-reconciler/${options.stage}/irsa-reconciler-${options.stage}-workload-boundary`,
      // Named by the stack (templates/resources/cluster-events.yml), so known before it is read.
      'ClusterEventsBus.Arn': `arn:${account.partition}:events:${region}:${account.accountId}:event-bus/irsa-reconciler-${options.stage}-cluster-events`,
      'ClusterEventsForwarderRole.Arn': `arn:${account.partition}:iam::${account.accountId}:role/irsa-reconciler-service/${options.stage}/irsa-reconciler-${options.stage}-event-forwarder`,
      ...options.tokens,
    });

    const plan = await reconcile({ clients, logger }, { ...config, dryRun: true });
    print(plan, options.json, out);
    if (!options.apply) return plan.failed ? 1 : hasChanges(plan) ? 2 : 0;
    if (plan.failed) {
      err('The plan could not see everything (an unknown region or a failed read): nothing applied.\n');
      return 1;
    }
    if (!hasChanges(plan)) return 0;
    const confirm = deps.confirm ?? askOnTerminal;
    if (!options.yes && !(await confirm(`Apply these changes to account ${account.accountId}? [y/N] `))) {
      err('Not applied.\n');
      return 3;
    }
    const applied = await reconcile({ clients, logger }, { ...config, dryRun: false });
    print(applied, options.json, out);
    return applied.failed ? 1 : 0;
  } catch (error) {
    err(`${describeError(error)}\n`);
    return 1;
  }
}

interface PlanOptions {
  stage: string;
  json: boolean;
  apply: boolean;
  yes: boolean;
  help: boolean;
  template?: string;
  endpoint?: string;
  tokens: Record<string, string>;
}

function parseOptions(argv: string[]): PlanOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
      apply: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      template: { type: 'string' },
      endpoint: { type: 'string' },
      token: { type: 'string', multiple: true, default: [] },
    },
  });
  if (values.help) return { stage: '', json: false, apply: false, yes: false, help: true, tokens: {} };
  if (!values.stage || !/^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/.test(values.stage)) {
    throw new ConfigError('--stage is required: the name of a stage file config/<stage>.yml');
  }
  const tokens: Record<string, string> = {};
  for (const token of values.token ?? []) {
    const match = /^([A-Za-z][A-Za-z0-9:.]*)=(.+)$/.exec(token);
    if (!match?.[1] || !match[2]) throw new ConfigError(`--token must be NAME=VALUE (got "${token}")`);
    tokens[match[1]] = match[2];
  }
  return {
    stage: values.stage,
    json: values.json ?? false,
    apply: values.apply ?? false,
    yes: values.yes ?? false,
    help: false,
    ...(values.template ? { template: values.template } : {}),
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    tokens,
  };
}

/** The stage file's `region` (the deployment region). */
function stageRegion(stage: string): string {
  const file = join(REPO_ROOT, 'config', `${stage}.yml`);
  if (!existsSync(file)) throw new ConfigError(`no stage file config/${stage}.yml`);
  const region = (parseYaml(readFileSync(file, 'utf8')) as { region?: unknown }).region;
  if (typeof region !== 'string') throw new ConfigError(`config/${stage}.yml: region is required`);
  return region;
}

/** Packages the stage offline (scripts/package.sh) and returns its template's path. */
function packageStage(stage: string, err: (text: string) => void): string {
  err(`Packaging stage ${stage} (offline) to read its configuration...\n`);
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'package.sh'), stage], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return join(REPO_ROOT, '.packaged', `${stage}.json`);
}

/**
 * The configuration the stack would write to AppConfig (the packaged template's hosted configuration
 * content), its CloudFormation tokens resolved with `values`, validated by the functions' own parser.
 */
export function deployedConfig(
  templateFile: string,
  stage: string,
  region: string,
  values: Record<string, string>,
): ReconcilerConfig {
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
    Resources: Record<string, { Properties?: Record<string, unknown> }>;
  };
  const content = template.Resources.ReconcilerConfigVersion?.Properties?.Content;
  if (content === undefined) throw new ConfigError(`${templateFile} holds no reconciler configuration`);
  const text = resolveSub(content, values);
  return parseReconcilerConfig(JSON.parse(text), { stage, deploymentRegion: region });
}

/** A template string value as CloudFormation resolves it: Fn::Sub with `${Token}`, `${!literal}`. */
export function resolveSub(value: unknown, values: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const sub = (value as { 'Fn::Sub'?: unknown })['Fn::Sub'];
  if (typeof sub !== 'string') throw new ConfigError(`cannot resolve ${JSON.stringify(value).slice(0, 80)}`);
  return sub.replace(/\$\{(!?)([^}]*)\}/g, (_match, escaped: string, name: string) => {
    if (escaped) return `\${${name}}`;
    const resolved = values[name];
    if (resolved === undefined) {
      throw new ConfigError(
        `the configuration uses \${${name}}, whose value only the deployed stack knows: pass --token ${name}=<value>`,
      );
    }
    return resolved;
  });
}

function print(report: ReconcileReport, json: boolean, out: (text: string) => void): void {
  out(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReportTable(report)}\n`);
}

async function askOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await terminal.question(question)).trim());
  } finally {
    terminal.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
