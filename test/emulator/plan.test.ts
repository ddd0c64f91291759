import { join } from 'node:path';
import { main } from '../../scripts/plan';
import {
  createBoundaryPolicy,
  createCluster,
  emulatorClients,
  readAllRoles,
} from '../support/emulator-fixtures';
import { EMULATOR_CREDENTIALS, type MotoServer, startMotoServer } from '../support/moto-server';
import { REPO_ROOT } from '../support/stack-template';

/**
 * `npm run plan` and `npm run apply` against the emulator, with the uat stage's configuration as the
 * packaged template holds it (scripts/test.sh packages every stage first).
 */

jest.setTimeout(60_000);

const TEMPLATE = join(REPO_ROOT, '.packaged', 'uat.json');
/** The ids only a deployed uat stack knows (its AppConfig resources). */
const TOKENS = ['AppConfigApplication=app1234', 'AppConfigEnvironment=env1234', 'AppConfigProfile=prf1234'];

describe('npm run plan / apply against the emulator', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
    const admin = emulatorClients(moto.endpoint);
    await createCluster(admin, 'eu-west-1', 'uat-a', { tags: { 'irsa-reconciler/opt-in': 'true' } });
    await createCluster(admin, 'eu-west-1', 'prod-a', { tags: { 'irsa-reconciler/opt-in': 'true' } });
    await createBoundaryPolicy(
      admin,
      'arn:aws:iam::123456789012:policy/irsa-reconciler/uat/irsa-reconciler-uat-workload-boundary',
    );
  });
  afterAll(async () => {
    await moto.stop();
  });

  async function cli(extra: string[], confirm = async () => false) {
    const out: string[] = [];
    const err: string[] = [];
    const argv = [
      '--stage',
      'uat',
      '--template',
      TEMPLATE,
      '--endpoint',
      moto.endpoint,
      ...TOKENS.flatMap((t) => ['--token', t]),
      ...extra,
    ];
    const code = await main(argv, {
      credentials: EMULATOR_CREDENTIALS,
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      confirm,
    });
    return { code, out: out.join(''), err: err.join('') };
  }

  it('plans (exit 2, nothing written), is declined (exit 3), applies (exit 0), then has nothing to do (exit 0)', async () => {
    // Act / Assess: the plan
    const plan = await cli([]);
    expect(plan.code).toBe(2);
    expect(plan.out).toContain('DRY RUN (nothing written)');
    expect(plan.out).toMatch(
      /^create\s+irsa-uat-a-cost-exporter-[0-9a-f]{10}\s+eu-west-1\/uat-a cost-exporter\s+planned$/m,
    );
    expect(plan.out).not.toContain('prod-a cost');
    expect(await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/')).toEqual({});

    // the JSON report for machines
    const json = await cli(['--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out)).toMatchObject({ dryRun: true, counts: { created: 2 } });

    // apply, declined at the prompt
    const declined = await cli(['--apply']);
    expect(declined.code).toBe(3);
    expect(await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/')).toEqual({});

    // apply, confirmed
    const applied = await cli(['--apply'], async () => true);
    expect(applied.code).toBe(0);
    expect(
      Object.keys(await readAllRoles(emulatorClients(moto.endpoint), '/irsa-reconciler/uat/')),
    ).toHaveLength(2);

    // nothing left to do
    const again = await cli([]);
    expect(again.code).toBe(0);
    const rerun = await cli(['--apply', '--yes']);
    expect(rerun.code).toBe(0);
  });

  it('exits 1 naming the token when the configuration needs a value only the stack knows', async () => {
    const out: string[] = [];
    const code = await main(['--stage', 'uat', '--template', TEMPLATE, '--endpoint', moto.endpoint], {
      credentials: EMULATOR_CREDENTIALS,
      out: (text) => out.push(text),
      err: (text) => out.push(text),
    });

    expect(code).toBe(1);
    expect(out.join('')).toContain('pass --token AppConfigApplication=<value>');
  });
});
