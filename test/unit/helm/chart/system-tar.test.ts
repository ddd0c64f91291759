import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readChartArchive } from '../../../../lib/helm/chart/chart';
import { TarReader } from '../../../../lib/helm/chart/tar';

/**
 * The tar reader against archives an independent implementation wrote: the system's GNU tar, in each
 * of its formats (long names as GNU long-name records, PAX extended headers, ustar prefixes).
 */

const LONG_DIR = `templates/${'nested-directory-with-a-long-name/'.repeat(3)}`;
const LONG_FILE = `${'a-file-name-longer-than-one-hundred-characters-'.repeat(3)}.yaml`;

function systemTar(): string {
  try {
    return execFileSync('tar', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch (error) {
    throw new Error(`the system tar is needed for this test (apt-get install tar): ${String(error)}`);
  }
}

describe('readChartArchive on archives written by GNU tar', () => {
  let dir: string;
  beforeAll(() => {
    expect(systemTar()).toMatch(/GNU tar/);
    dir = mkdtempSync(join(tmpdir(), 'irsa-system-tar-'));
    const chart = join(dir, 'src', 'web-frontend');
    mkdirSync(join(chart, LONG_DIR), { recursive: true });
    writeFileSync(
      join(chart, 'Chart.yaml'),
      'apiVersion: v2\nname: web-frontend\nversion: 1.4.2\ndescription: "Ünïcödé description"\n',
    );
    writeFileSync(join(chart, 'values.yaml'), 'replicas: 2\n');
    writeFileSync(join(chart, LONG_DIR, LONG_FILE), 'kind: ConfigMap\n');
    // Over 100 characters of path with a short name: ustar's prefix field
    writeFileSync(join(chart, LONG_DIR, 'short.yaml'), 'kind: Secret\n');
    writeFileSync(join(chart, 'templates', 'ünïcödé-name.yaml'), 'kind: Service\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['gnu', 'oldgnu', 'pax', 'ustar', 'posix'])(
    'reads a chart written in the %s format',
    async (format) => {
      // Prepare
      const archive = join(dir, `web-frontend-${format}.tgz`);
      // ustar holds names of at most 256 characters: the longest one is left out there
      const exclude = format === 'ustar' ? ['--exclude=*longer-than-one-hundred*'] : [];
      execFileSync('tar', [
        `--format=${format}`,
        ...exclude,
        '-czf',
        archive,
        '-C',
        join(dir, 'src'),
        'web-frontend',
      ]);
      const bytes = readFileSync(archive);

      // Act
      const chart = await readChartArchive(createReadStream(archive));

      // Assess: every entry name and content as GNU tar itself lists and extracts them
      const entries = new Map<string, string>();
      const reader = new TarReader({
        entry: (entry) => ({ collect: entry.type === 'file', maxBytes: 1024 }),
        data: (entry, data) => entries.set(entry.name, data.toString('utf8')),
      });
      reader.push(gunzipSync(bytes));
      const listed = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })
        .split('\n')
        .filter((name) => name !== '' && !name.endsWith('/'));
      expect([...entries.keys()].sort()).toEqual(listed.sort());
      expect(reader.ended).toBe(true);
      for (const name of listed) {
        const extracted = execFileSync('tar', ['-xzOf', archive, name], { encoding: 'utf8' });
        expect(entries.get(name)).toBe(extracted);
      }
      expect(chart.metadata).toMatchObject({
        apiVersion: 'v2',
        name: 'web-frontend',
        version: '1.4.2',
        description: 'Ünïcödé description',
      });
      expect(chart.digest).toBe(createHash('sha256').update(bytes).digest('hex'));
    },
  );
});
