/**
 * `npm run demo`: the IRSA reconciler against a local AWS emulator (moto), end to end.
 * Four EKS clusters in two regions, three of them selected, two agent bindings; the configuration read
 * from AppConfig as the deployed functions read it, every role bounded by the stack's boundary;
 * reconcile, reconcile again (steady state: no write), a forged custom resource Delete refused, delete
 * a cluster and reconcile (prune); a third binding in EKS Pod Identity mode (one role for the fleet,
 * an association per cluster, the agent add-on installed), served by the Pod Identity fake in front of
 * moto (moto lacks those calls); a cluster created later, reconciled alone from its CreateCluster
 * event through the cluster-events function. Then the Helm repository: two charts published to an emulator bucket
 * and indexed from their S3 notification. Exits non-zero if anything is not as expected.
 */
import type { SQSRecord } from 'aws-lambda';
import { createHandler as createClusterEventsHandler } from '../functions/cluster-events';
import { createHandler as createCustomResourceHandler } from '../functions/custom-resource';
import type { AwsClients } from '../lib/aws/clients';
import { readDeployedConfig } from '../lib/lambda/deployed-config';
import { silentLogger } from '../lib/observability/logger';
import { reconcile } from '../lib/reconciler/index';
import { formatReportTable } from '../lib/reconciler/report';
import type { ReconcileReport, ReconcilerConfig } from '../lib/reconciler/types';
import {
  createBoundaryPolicy,
  createCluster,
  createForeignRole,
  deleteCluster,
  deployReconcilerConfig,
  EMULATOR_BOUNDARY_ARN,
  emulatorClients,
  readAllRoles,
  readRoleState,
  SAMPLE_RECONCILER_CONFIG,
} from '../test/support/emulator-fixtures';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from '../test/support/moto-server';
import { type PodIdentityFront, startPodIdentityFront } from '../test/support/pod-identity-front';
import { startStackStatusFront } from '../test/support/stack-status-front';
import { lambdaContext, loadEvent } from '../test/unit/lambda/support';
import { runHelmDemo } from './demo-helm';
import { main as plan } from './plan';

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
  eksEndpoint?: string,
): Promise<{ report: ReconcileReport; writes: number }> {
  // Fresh clients per run, as a new Lambda container would have: the call counter starts at zero.
  const clients = emulatorClients(
    endpoint,
    eksEndpoint ? { eksEndpoints: { 'eu-west-1': eksEndpoint, 'us-east-1': eksEndpoint } } : {},
  );
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

  heading('1. The world: four EKS clusters in two regions, with their IAM OIDC providers');
  const clusters = [
    await createCluster(admin, 'eu-west-1', 'payments'),
    await createCluster(admin, 'eu-west-1', 'search'),
    await createCluster(admin, 'us-east-1', 'analytics'),
    await createCluster(admin, 'us-east-1', 'sandbox-7'),
  ];
  for (const cluster of clusters)
    console.log(`  ${cluster.region.padEnd(10)} ${cluster.name.padEnd(10)} ${cluster.issuerUrl}`);
  for (const role of FOREIGN_ROLES) await createForeignRole(admin, role);
  console.log(`  unrelated roles: ${FOREIGN_ROLES.map((role) => `${role.path}${role.name}`).join(', ')}`);
  const foreignBefore = await foreignRolesState(admin);

  heading('   The deployment: its configuration in AppConfig, its permissions boundary');
  const raw = {
    ...SAMPLE_RECONCILER_CONFIG,
    // Cluster selection is the trust boundary: the three named clusters, never sandbox-7.
    clusters: { include: ['payments', 'search', 'analytics'] },
  };
  const location = await deployReconcilerConfig(admin, raw);
  await createBoundaryPolicy(admin);
  const config = await readDeployedConfig(admin, location, { stage: STAGE, region: 'eu-west-1' });
  console.log(
    `  configuration: AppConfig ${location.applicationId}/${location.profileId} version ${location.version}`,
  );
  console.log(
    `  bindings: ${config.bindings.map((b) => `${b.name} (${b.namespace}/${b.serviceAccount})`).join(', ')}`,
  );
  console.log(
    `  clusters: ${config.clusters.include.join(', ')}   boundary: ${config.permissionsBoundaryArn}`,
  );
  console.log(`  role path: ${config.rolePath}   prune: ${config.prune}   guard: ${config.maxPruneFraction}`);

  heading('2. Plan (dry run), then apply');
  const dry = await run('Plan:', { ...config, dryRun: true }, moto.endpoint);
  check(dry.writes === 0, 'the dry run made no write call');
  const first = await run('Apply:', config, moto.endpoint);
  check(!first.report.failed, 'the first run succeeded');
  check(first.report.counts.created === 6, '6 roles created: 3 clusters × 2 bindings');

  const made = Object.values(await readAllRoles(admin, config.rolePath)).filter(
    (role) => role.tags['irsa-reconciler/stage'] === STAGE,
  );
  check(
    made.every((role) => role.permissionsBoundaryArn === EMULATOR_BOUNDARY_ARN),
    'every role carries the permissions boundary',
  );
  check(!made.some((role) => role.tags['irsa-reconciler/cluster'] === 'sandbox-7'), 'sandbox-7 got no role');

  heading('3. Reconcile again: steady state');
  const second = await run('Second run:', config, moto.endpoint);
  check(second.writes === 0, 'the second run made no write call');
  check(second.report.counts.unchanged === 6, 'all 6 roles reported unchanged');

  heading('   A forged custom resource Delete (someone allowed to invoke the function) is refused');
  const front = await startStackStatusFront(moto.endpoint);
  try {
    const stackId = String(loadEvent('delete').StackId);
    front.setStatus(stackId, 'UPDATE_COMPLETE');
    const answers: string[] = [];
    const handler = createCustomResourceHandler({
      clients: emulatorClients(front.endpoint),
      logger: silentLogger,
      stage: STAGE,
      region: 'eu-west-1',
      deployment: { stackId, configVersion: location.version },
      loadConfig: async () => config,
      sendResponse: async (_url, body) => {
        answers.push(body);
      },
    });
    const forged = loadEvent('delete');
    forged.ResourceProperties.ConfigVersion = location.version;
    forged.ResourceProperties.Config = '{}';
    await handler(forged, lambdaContext());
    console.log(`  answer: ${answers[0]}`);
    check(answers[0]?.includes('"Status":"FAILED"') === true, 'the forged Delete was answered FAILED');
    const after = await run('A run after the forged Delete:', config, moto.endpoint);
    check(after.report.counts.unchanged === 6 && after.writes === 0, 'no role was touched');
  } finally {
    await front.stop();
  }

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

  const pods = await startPodIdentityFront(moto.endpoint);
  try {
    const withPods = await runPodIdentityDemo(config, moto.endpoint, pods);
    await runClusterEventDemo(withPods, moto.endpoint, pods);
  } finally {
    await pods.stop();
  }
}

const WRITE_CALL = /:(Create|Update|Delete|Put|Tag|Untag|Attach|Detach)/;

/**
 * A cluster created after the fleet was reconciled: its CreateCluster call, as CloudTrail delivers it
 * to EventBridge and the queue to the cluster-events function, reconciles that cluster alone (moto
 * emits no such event, so the demo delivers it).
 */
async function runClusterEventDemo(fleet: ReconcilerConfig, endpoint: string, pods: PodIdentityFront) {
  heading('6. A new cluster "checkout": its CreateCluster call reconciles it alone, no scheduled run');
  // The team's selection names it already (the deploy that added it ran before the cluster existed).
  const config = {
    ...fleet,
    clusters: { ...fleet.clusters, include: [...fleet.clusters.include, 'checkout'] },
  };
  const admin = emulatorClients(endpoint);
  await createCluster(admin, 'eu-west-1', 'checkout');
  const calledAt = new Date();
  const requeued: number[] = [];
  const handler = createClusterEventsHandler({
    clients: emulatorClients(endpoint, {
      eksEndpoints: { 'eu-west-1': pods.endpoint, 'us-east-1': pods.endpoint },
    }),
    logger: silentLogger,
    loadConfig: async () => config,
    requeue: async (_body, delaySeconds) => {
      requeued.push(delaySeconds);
    },
    now: () => new Date(calledAt.getTime() + 12 * 60_000),
  });
  const event = JSON.stringify({
    source: 'aws.eks',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: {
      eventSource: 'eks.amazonaws.com',
      eventName: 'CreateCluster',
      awsRegion: 'eu-west-1',
      eventTime: calledAt.toISOString(),
      requestParameters: { name: 'checkout' },
    },
  });
  const deliver = async () =>
    (await handler({ Records: [{ body: event } as SQSRecord] }, lambdaContext()))[0];
  const first = await deliver();
  if (first?.outcome !== 'reconciled')
    throw new DemoFailure(`the event was ${first?.outcome}, not reconciled`);
  console.log(`\nThe CreateCluster event:\n\n${formatReportTable(first.report)}`);
  const roles = Object.values(await readAllRoles(admin, config.rolePath)).filter(
    (role) => role.tags['irsa-reconciler/cluster'] === 'checkout',
  );
  check(roles.length === 2, "cluster 'checkout' got its 2 IRSA roles");
  check(
    pods.associations().filter((item) => item.clusterName === 'checkout').length === 1,
    "and its Pod Identity association (the fleet role's trust widened to it)",
  );
  const calls = Object.keys(first.report.apiCalls).length;
  check(
    Object.keys(first.report.apiCalls).every((call) => !call.startsWith('EKS:ListClusters')) && calls > 0,
    'only that cluster was read (no ListClusters)',
  );
  const again = await deliver();
  const writes =
    again?.outcome === 'reconciled'
      ? Object.entries(again.report.apiCalls)
          .filter(([call]) => WRITE_CALL.test(call))
          .reduce((sum, [, count]) => sum + count, 0)
      : -1;
  check(writes === 0, 'the same event delivered again made no write call');
}

/** A third binding in EKS Pod Identity mode next to the two IRSA ones. */
async function runPodIdentityDemo(
  config: ReconcilerConfig,
  endpoint: string,
  pods: PodIdentityFront,
): Promise<ReconcilerConfig> {
  heading('5. A third binding, external-secrets, in EKS Pod Identity mode: one role for the fleet');
  const withPods: ReconcilerConfig = {
    ...config,
    podIdentity: { ...config.podIdentity, installAgent: true },
    bindings: [
      ...config.bindings,
      {
        name: 'external-secrets',
        namespace: 'external-secrets',
        serviceAccount: 'external-secrets',
        mode: 'pod-identity',
        policies: [{ template: 'secretsmanager-read', params: { SecretNamePrefixes: ['platform/'] } }],
      },
    ],
  };
  const first = await run('Apply:', withPods, endpoint, pods.endpoint);
  check(!first.report.failed, 'the run succeeded');
  const associations = pods.associations();
  for (const item of associations) {
    console.log(
      `  association ${item.region}/${item.clusterName} ${item.namespace}/${item.serviceAccount} → ${item.roleArn}`,
    );
  }
  check(
    associations.length === 2 && new Set(associations.map((item) => item.roleArn)).size === 1,
    'one association per selected cluster (payments, analytics), both with the one Pod Identity role',
  );
  check(
    pods.addons().filter((addon) => addon.addonName === 'eks-pod-identity-agent').length === 2,
    'the eks-pod-identity-agent add-on installed on both clusters',
  );
  const second = await run('Again:', withPods, endpoint, pods.endpoint);
  check(second.writes === 0, 'the second run made no write call');
  return withPods;
}

/** `npm run plan` and `npm run apply` for the uat stage's own configuration, against the emulator. */
async function runPlanDemo(moto: MotoServer): Promise<void> {
  heading('7. npm run plan / npm run apply -- --stage uat: the uat configuration, planned then applied');
  const admin = emulatorClients(moto.endpoint);
  await createCluster(admin, 'eu-west-1', 'uat-demo', { tags: { 'irsa-reconciler/opt-in': 'true' } });
  const argv = [
    '--stage',
    'uat',
    '--endpoint',
    moto.endpoint,
    ...['AppConfigApplication=app1234', 'AppConfigEnvironment=env1234', 'AppConfigProfile=prf1234'].flatMap(
      (token) => ['--token', token],
    ),
  ];
  const output = {
    out: (text: string) => process.stdout.write(text),
    err: (text: string) => process.stderr.write(text),
  };
  const planned = await plan(argv, { credentials: EMULATOR_CREDENTIALS, ...output });
  check(planned === 2, 'npm run plan exits 2: changes planned, nothing written');
  const applied = await plan([...argv, '--apply', '--yes'], { credentials: EMULATOR_CREDENTIALS, ...output });
  check(applied === 0, 'npm run apply -- --yes exits 0: applied');
  const again = await plan(argv, { credentials: EMULATOR_CREDENTIALS, out: () => {}, err: () => {} });
  check(again === 0, 'npm run plan exits 0 afterwards: nothing to change');
}

async function main(): Promise<void> {
  const moto = await startMotoServer();
  console.log(`moto (local AWS emulator) at ${moto.endpoint}`);
  try {
    await runReconcilerDemo(moto);
    await runPlanDemo(moto);
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
