// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` here is CloudFormation Fn::Sub syntax under test
import { ConfigError } from '../../../lib/errors';
import { main, resolveSub } from '../../../scripts/plan';

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
  return { code, out, err };
}

describe('resolveSub', () => {
  it('resolves the stack tokens and keeps escaped ${!...} literal', () => {
    expect(resolveSub({ 'Fn::Sub': '${DataBucket}/${!aws:username}' }, { DataBucket: 'b' })).toBe(
      'b/${aws:username}',
    );
    expect(resolveSub('plain', {})).toBe('plain');
  });

  it('names a token only the deployed stack knows, and how to give it', () => {
    expect(() => resolveSub({ 'Fn::Sub': '${AppConfigProfile}' }, {})).toThrow(ConfigError);
    expect(() => resolveSub({ 'Fn::Sub': '${AppConfigProfile}' }, {})).toThrow(
      'pass --token AppConfigProfile=<value>',
    );
  });
});

describe('the plan command', () => {
  it('exits 1 naming what is wrong, with the usage, for a call without a stage', async () => {
    const { code, err } = run(['--json']);

    expect(await code).toBe(1);
    expect(err.join('')).toContain('--stage is required');
    expect(err.join('')).toContain('Usage: npm run plan');
  });

  it('exits 1 for an unknown option', async () => {
    const { code, err } = run(['--stage', 'uat', '--planet']);

    expect(await code).toBe(1);
    expect(err.join('')).toMatch(/Unknown option '--planet'/);
  });

  it('exits 1 for a stage without a stage file, before any AWS call', async () => {
    const { code, err } = run(['--stage', 'nope']);

    expect(await code).toBe(1);
    expect(err.join('')).toContain('no stage file config/nope.yml');
  });

  it('prints its usage on --help and exits 0', async () => {
    const { code, out } = run(['--help']);

    expect(await code).toBe(0);
    expect(out.join('')).toContain('terraform plan -detailed-exitcode');
  });
});
