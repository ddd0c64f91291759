import { main } from '../../../scripts/reindex';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('scripts/reindex.ts', () => {
  it('prints the usage and exits 2 on an unknown command', async () => {
    const io = capture();
    expect(await main(['reindex', '--bucket', 'acme'])).toBe(2);
    expect(io.err()).toContain('expected the command "rebuild"');
    expect(io.err()).toContain('Usage: tsx scripts/reindex.ts rebuild --bucket BUCKET');
  });

  it('exits 2 on an unknown option', async () => {
    const io = capture();
    expect(await main(['rebuild', '--bucket', 'acme', '--frce'])).toBe(2);
    expect(io.err()).toContain("'--frce'");
  });

  it('names the option that is missing or wrong and exits 1 before any AWS call', async () => {
    const io = capture();
    expect(await main(['rebuild'])).toBe(1);
    expect(await main(['rebuild', '--bucket', 'acme', '--prefix', 'charts', '--concurrency', 'lots'])).toBe(
      1,
    );
    expect(io.err()).toContain('--bucket: is required');
    expect(io.err()).toContain('--prefix: must be empty or end with "/"');
    expect(io.err()).toContain('--concurrency:');
  });

  it('prints the usage on --help', async () => {
    const io = capture();
    expect(await main(['--help'])).toBe(0);
    expect(io.out()).toContain('--dry-run');
  });
});
