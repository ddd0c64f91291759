/**
 * `npm run demo`: the IRSA reconciler against a local AWS emulator (moto), end to end.
 * Three EKS clusters in two regions, two agent bindings; reconcile, reconcile again (steady state:
 * no write), delete a cluster and reconcile (prune). Then the Helm repository: two charts published to
 * an emulator bucket and indexed from their S3 notification. Exits non-zero if anything is not as expected.
 */
import type { AwsClients } from '../lib/aws/clients';
import { silentLogger } from '../lib/logger';
import { parseReconcilerConfig } from '../lib/reconciler/config';
import { reconcile } from '../lib/reconciler/reconcile';
import { formatReportTable } from '../lib/reconciler/report';
import type { ReconcileReport, ReconcilerConfig } from '../lib/reconciler/types';
import {
  createCluster,
  createForeignRole,
  deleteCluster,
  emulatorClients,
  readAllRoles,
  readRoleState,
  SAMPLE_RECONCILER_CONFIG,
} from '../test/support/emulator-fixtures';
import { type MotoServer, startMotoServer } from '../test/support/moto-server';
import { runHelmDemo } from './demo-helm';

const STAGE = 'demo';

const FOREIGN_ROLES = [
  { name: 'ci-deployer', path: '/' },
  { name: 'irsa-hand-made', path: `/irsa-reconciler/${STAGE}/`, tags: { team: 'someone-else' } },
];

class DemoFailure extends Error {}

function check(condition: boolean, message: string): void {
  if (!condition) throw new DemoFailure(message);
  console.log(`  ✓ ${message}`);
}

function heading(title: string): void {
  console.log(`\n${'='.repeat(100)}\n${title}\n${'='.repeat(100)}`);
}

async function run(
  label: string,
  config: ReconcilerConfig,
  endpoint: string,
): Promise<{ report: ReconcileReport; writes: number }> {
  // Fresh clients per run, as a new Lambda container would have: the call counter starts at zero.
  const clients = emulatorClients(endpoint);
  const report = await reconcile({ clients, logger: silentLogger }, config);
  console.log(`\n${label}\n`);
  console.log(formatReportTable(report));
  return { report, writes: clients.calls.writes() };
}

async function foreignRolesState(admin: AwsClients): Promise<string> {
  return JSON.stringify(await Promise.all(FOREIGN_ROLES.map((role) => readRoleState(admin, role.name))));
}

/** The reconciler part of the demo, on a running emulator. */
export async function runReconcilerDemo(moto: MotoServer): Promise<void> {
  const admin = emulatorClients(moto.endpoint);

  heading('1. The world: three EKS clusters in two regions, with their IAM OIDC providers');
  const clusters = [
    await createCluster(admin, 'eu-west-1', 'payments'),
    await createCluster(admin, 'eu-west-1', 'search'),
    await createCluster(admin, 'us-east-1', 'analytics'),
  ];
  for (const cluster of clusters)
    console.log(`  ${cluster.region.padEnd(10)} ${cluster.name.padEnd(10)} ${cluster.issuerUrl}`);
  for (const role of FOREIGN_ROLES) await createForeignRole(admin, role);
  console.log(`  unrelated roles: ${FOREIGN_ROLES.map((role) => `${role.path}${role.name}`).join(', ')}`);
  const foreignBefore = await foreignRolesState(admin);

  const config = parseReconcilerConfig(SAMPLE_RECONCILER_CONFIG, {
    stage: STAGE,
    deploymentRegion: 'eu-west-1',
  });
  console.log(
    `\n  bindings: ${config.bindings.map((b) => `${b.name} (${b.namespace}/${b.serviceAccount})`).join(', ')}`,
  );
  console.log(`  role path: ${config.rolePath}   prune: ${config.prune}   guard: ${config.maxPruneFraction}`);

  heading('2. Plan (dry run), then apply');
  const dry = await run('Plan:', { ...config, dryRun: true }, moto.endpoint);
  check(dry.writes === 0, 'the dry run made no write call');
  const first = await run('Apply:', config, moto.endpoint);
  check(!first.report.failed, 'the first run succeeded');
  check(first.report.counts.created === 6, '6 roles created: 3 clusters × 2 bindings');

  heading('3. Reconcile again: steady state');
  const second = await run('Second run:', config, moto.endpoint);
  check(second.writes === 0, 'the second run made no write call');
  check(second.report.counts.unchanged === 6, 'all 6 roles reported unchanged');

  heading('4. Delete cluster "search" in eu-west-1, reconcile: its roles are pruned');
  const search = clusters[1];
  if (search) await deleteCluster(admin, search);
  const third = await run('After the cluster deletion:', config, moto.endpoint);
  check(third.report.counts.deleted === 2, "the 2 roles of cluster 'search' were deleted");
  const remaining = Object.values(await readAllRoles(admin, config.rolePath)).filter(
    (role) => role.tags['irsa-reconciler/stage'] === STAGE,
  );
  check(remaining.length === 4, '4 owned roles remain');
  check((await foreignRolesState(admin)) === foreignBefore, 'unrelated roles are exactly as they were');
}

async function main(): Promise<void> {
  const moto = await startMotoServer();
  console.log(`moto (local AWS emulator) at ${moto.endpoint}`);
  try {
    await runReconcilerDemo(moto);
    await runHelmDemo(moto.endpoint);
  } finally {
    await moto.stop();
  }
  console.log('\nDemo finished: every check passed.');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`\nDemo FAILED: ${error instanceof Error ? error.message : String(error)}`);
    if (!(error instanceof DemoFailure) && error instanceof Error && error.stack) console.error(error.stack);
    process.exitCode = 1;
  });
}
