import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidChartError } from '../../../../lib/errors';
import {
  type ChartReadLimits,
  DEFAULT_CHART_READ_LIMITS,
  readChartArchive,
} from '../../../../lib/helm/chart/chart';
import {
  chartArchive,
  chunked,
  gzip,
  gzipBomb,
  MINIMAL_CHART_YAML,
  tar,
} from '../../../support/chart-archives';

const read = (archive: Buffer, limits?: ChartReadLimits) => readChartArchive(chunked(archive, 4096), limits);

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('readChartArchive', () => {
  it('reads Chart.yaml from the top-level directory and digests the whole compressed archive', async () => {
    // Prepare
    const archive = chartArchive({
      chartYaml: 'apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: "2.0"\ndescription: A web app\n',
      files: { 'values.yaml': 'replicas: 1\n', 'templates/deployment.yaml': 'kind: Deployment\n' },
    });

    // Act
    const chart = await read(archive);

    // Assess
    expect(chart.metadata).toEqual({
      apiVersion: 'v2',
      name: 'web',
      version: '1.2.3',
      appVersion: '2.0',
      description: 'A web app',
    });
    expect(chart.digest).toBe(sha256(archive));
    expect(chart.size).toBe(archive.length);
  });

  it('gives the same result for a Node stream, one-byte chunks and a single buffer', async () => {
    // Prepare
    const archive = chartArchive({ files: { 'README.md': 'x'.repeat(10_000) } });

    // Act
    const results = await Promise.all([
      readChartArchive(Readable.from([archive])),
      readChartArchive(chunked(archive, 1)),
      readChartArchive(chunked(archive, archive.length)),
    ]);

    // Assess
    for (const result of results) expect(result).toEqual(results[0]);
  });

  it('accepts any name for the chart directory and ignores the Chart.yaml of subcharts', async () => {
    // Prepare: a subchart's Chart.yaml comes before the chart's own
    const archive = gzip(
      tar([
        { name: 'packaged/', typeflag: '5' },
        { name: 'packaged/charts/db/Chart.yaml', content: 'apiVersion: v2\nname: db\nversion: 9.9.9\n' },
        { name: 'packaged/Chart.yaml', content: MINIMAL_CHART_YAML },
        { name: 'packaged/charts/db/values.yaml', content: 'a: 1\n' },
      ]),
    );

    // Act
    const chart = await read(archive);

    // Assess
    expect(chart.metadata).toMatchObject({ name: 'demo', version: '1.0.0' });
  });

  it.each(['pax', 'gnu'] as const)('follows %s long names', async (longName) => {
    // Prepare
    const deep = `demo/templates/${'nested/'.repeat(20)}configmap.yaml`;
    const archive = gzip(
      tar([
        { name: deep, content: 'kind: ConfigMap\n', longName },
        { name: 'demo/Chart.yaml', content: MINIMAL_CHART_YAML },
      ]),
    );

    // Act
    const chart = await read(archive);

    // Assess
    expect(chart.metadata.name).toBe('demo');
  });

  it('merges requirements.yaml into the metadata, as Helm does for apiVersion v1 charts', async () => {
    // Prepare
    const archive = chartArchive({
      chartYaml: 'name: legacy\nversion: 0.1.0\n',
      files: {
        'requirements.yaml': 'dependencies:\n- name: mysql\n  version: ">=1.0.0"\n  repository: "@stable"\n',
      },
    });

    // Act
    const chart = await read(archive);

    // Assess
    expect(chart.metadata).toEqual({
      apiVersion: 'v1',
      name: 'legacy',
      version: '0.1.0',
      dependencies: [{ name: 'mysql', version: '>=1.0.0', repository: '@stable' }],
    });
  });

  it('converts and sanitises fields as Helm does (numbers to strings, whitespace to spaces)', async () => {
    // Prepare
    const archive = chartArchive({
      chartYaml: [
        'apiVersion: v2',
        'name: conv',
        'version: 1.0.0',
        'appVersion: 1.10',
        'description: |',
        '  first line',
        '  second\tline',
        'keywords: [yes, 12, "x"]',
        // beyond float32's range: sigs.k8s.io/yaml's float32 formatting gives +Inf (a key: .inf)
        `home: 1${'0'.repeat(45)}`,
        'annotations: {1e39: big, -1e39: small}',
        'deprecated: true',
        'unknownField: ignored',
        '',
      ].join('\n'),
    });

    // Act
    const chart = await read(archive);

    // Assess
    expect(chart.metadata).toEqual({
      apiVersion: 'v2',
      name: 'conv',
      version: '1.0.0',
      appVersion: '1.1',
      description: 'first line second line ',
      keywords: ['true', '12', 'x'],
      home: '+Inf',
      annotations: { '.inf': 'big', '-.inf': 'small' },
      deprecated: true,
    });
  });

  it.each([
    [
      'an archive without Chart.yaml',
      gzip(tar([{ name: 'demo/values.yaml', content: 'a: 1\n' }])),
      /Chart.yaml is missing/,
    ],
    [
      'a Chart.yaml outside any directory',
      gzip(tar([{ name: 'Chart.yaml', content: MINIMAL_CHART_YAML }])),
      /outside the base directory/,
    ],
    [
      'a Chart.yaml that is a symbolic link',
      gzip(tar([{ name: 'demo/Chart.yaml', typeflag: '2', linkName: '/etc/passwd' }])),
      /not a regular file/,
    ],
    [
      'a path escaping the chart directory',
      gzip(
        tar([
          { name: 'demo/../../etc/x', content: 'x' },
          { name: 'demo/Chart.yaml', content: MINIMAL_CHART_YAML },
        ]),
      ),
      /parent directory/,
    ],
    ['an absolute path', gzip(tar([{ name: 'demo//etc/passwd', content: 'x' }])), /absolute paths/],
    [
      'a file beside the chart directory',
      gzip(tar([{ name: 'README', content: 'x' }])),
      /outside the base directory/,
    ],
    [
      'two top-level directories with a Chart.yaml',
      gzip(
        tar([
          { name: 'a/Chart.yaml', content: MINIMAL_CHART_YAML },
          { name: 'b/Chart.yaml', content: MINIMAL_CHART_YAML },
        ]),
      ),
      /more than one top-level directory/,
    ],
    ['invalid YAML', chartArchive({ chartYaml: 'name: [unclosed\n' }), /cannot load Chart.yaml/],
    [
      'a list where a string belongs',
      chartArchive({ chartYaml: 'apiVersion: v2\nname: [a]\nversion: 1.0.0\n' }),
      /cannot unmarshal array into Metadata.name/,
    ],
    [
      'a version that is not SemVer',
      chartArchive({ chartYaml: 'apiVersion: v2\nname: demo\nversion: 1.2.3.4\n' }),
      /version "1.2.3.4" is invalid/,
    ],
    ['a missing name', chartArchive({ chartYaml: 'apiVersion: v2\nversion: 1.0.0\n' }), /name is required/],
    [
      'a name with a slash',
      chartArchive({ chartYaml: 'apiVersion: v2\nname: a/b\nversion: 1.0.0\n' }),
      /name "a\/b" is invalid/,
    ],
    [
      'an unknown apiVersion',
      chartArchive({ chartYaml: 'apiVersion: v3\nname: demo\nversion: 1.0.0\n' }),
      /apiVersion "v3" is not v1 or v2/,
    ],
    [
      'an unknown chart type',
      chartArchive({ chartYaml: 'apiVersion: v2\nname: demo\nversion: 1.0.0\ntype: plugin\n' }),
      /type must be application or library/,
    ],
    [
      'an alias with disallowed characters',
      chartArchive({
        chartYaml: 'apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n- name: db\n  alias: a.b\n',
      }),
      /disallowed characters in the alias/,
    ],
    [
      'Chart.yaml that is not UTF-8',
      gzip(tar([{ name: 'demo/Chart.yaml', content: Buffer.from([0x6e, 0x3a, 0xff, 0x0a]) }])),
      /not valid UTF-8/,
    ],
    ['bytes that are not gzip', Buffer.from('apiVersion: v2\nname: demo\n'), /not a valid gzip archive/],
    ['an empty object', Buffer.alloc(0), /the archive is empty/],
    [
      'a truncated archive',
      chartArchive({ files: { 'values.yaml': 'a: 1\n'.repeat(1000) } }).subarray(0, 60),
      /gzip|truncated/,
    ],
    [
      'a tar cut in the middle of an entry',
      gzip(tar([{ name: 'demo/Chart.yaml', content: MINIMAL_CHART_YAML }]).subarray(0, 600)),
      /truncated/,
    ],
    [
      'a corrupted tar header',
      gzip(Buffer.concat([Buffer.from('x'.repeat(512)), Buffer.alloc(1024)])),
      /invalid checksum/,
    ],
  ])('refuses %s', async (_case, archive, reason) => {
    // Act
    const result = read(archive);

    // Assess
    await expect(result).rejects.toThrow(InvalidChartError);
    await expect(read(archive)).rejects.toThrow(reason);
  });

  it('refuses a long stream of bytes that are not gzip, in many chunks, without waiting forever', async () => {
    // Prepare
    const garbage = Buffer.alloc(2 * 1024 * 1024, 'not gzip at all ');

    // Act
    const result = readChartArchive(chunked(garbage, 1024));

    // Assess
    await expect(result).rejects.toThrow(/not a valid gzip archive/);
  });

  it('passes on an error of the source stream unchanged (a failed download is not an invalid chart)', async () => {
    // Prepare
    const archive = chartArchive({});
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield archive.subarray(0, 10);
      throw new Error('socket hang up');
    }

    // Act
    const result = readChartArchive(failing());

    // Assess
    await expect(result).rejects.toThrow('socket hang up');
    await expect(readChartArchive(failing())).rejects.not.toThrow(InvalidChartError);
  });

  it('refuses a Chart.yaml over the size limit without buffering it', async () => {
    // Prepare
    const archive = chartArchive({ chartYaml: `${MINIMAL_CHART_YAML}description: ${'x'.repeat(5000)}\n` });

    // Act
    const result = read(archive, { ...DEFAULT_CHART_READ_LIMITS, maxChartYamlBytes: 1024 });

    // Assess
    await expect(result).rejects.toThrow(/Chart.yaml is larger than 1024 bytes/);
  });

  it('stops inflating a gzip bomb at the decompression limit', async () => {
    // Prepare: ~64 MiB of zeros in a few tens of KiB
    const bomb = await gzipBomb(64 * 1024 * 1024, { chartYamlFirst: true });
    const limits = { ...DEFAULT_CHART_READ_LIMITS, maxUncompressedBytes: 8 * 1024 * 1024 };
    expect(bomb.length).toBeLessThan(200_000);

    // Act
    const result = read(bomb, limits);

    // Assess
    await expect(result).rejects.toThrow(/decompresses to more than 8388608 bytes/);
  });

  it('refuses an archive over the compressed size limit', async () => {
    // Prepare
    const archive = chartArchive({ files: { 'big.bin': 'random'.repeat(1000) } });

    // Act
    const result = read(archive, { ...DEFAULT_CHART_READ_LIMITS, maxArchiveBytes: 100 });

    // Assess
    await expect(result).rejects.toThrow(/larger than 100 bytes/);
  });

  it('reads Chart.yaml with YAML anchors and merge keys, and refuses an alias bomb', async () => {
    // Prepare
    const anchors = chartArchive({
      chartYaml: 'base: &b\n  apiVersion: v2\n  version: 1.0.0\nname: anchored\n<<: *b\n',
    });
    const lol = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let level = 1; level < 8; level++)
      lol.push(
        `l${level}: &l${level} [${Array(10)
          .fill(`*${level === 1 ? 'a' : `l${level - 1}`}`)
          .join(',')}]`,
      );
    const bomb = chartArchive({ chartYaml: `${MINIMAL_CHART_YAML}${lol.join('\n')}\n` });

    // Act
    const chart = await read(anchors);
    const refused = read(bomb);

    // Assess
    expect(chart.metadata).toEqual({ apiVersion: 'v2', name: 'anchored', version: '1.0.0' });
    await expect(refused).rejects.toThrow(/more than 100000 YAML nodes/);
  });
});

describe('readChartArchive against alias amplification', () => {
  const aliasBomb = (aliases: number) =>
    chartArchive({
      chartYaml: [
        'apiVersion: v2',
        'name: bomb',
        'version: 1.0.0',
        'annotations:',
        `  big: &big "${'x'.repeat(100_000)}"`,
        'dependencies:',
        '  - name: a',
        '    version: 1.0.0',
        `    import-values: [${Array.from({ length: aliases }, () => '*big').join(', ')}]`,
        '',
      ].join('\n'),
    });

  it('refuses a small Chart.yaml whose aliases expand past the limit, saying so', async () => {
    // 200 aliases of a 100 KB string: 20 MB of metadata from an archive of a few hundred bytes
    const outcome = read(aliasBomb(200));

    await expect(outcome).rejects.toBeInstanceOf(InvalidChartError);
    await expect(outcome).rejects.toThrow(
      `cannot load Chart.yaml: more than ${DEFAULT_CHART_READ_LIMITS.maxExpandedMetadataBytes} characters once aliases are expanded`,
    );
  });

  it('still reads a chart whose aliases stay within the limit', async () => {
    const chart = await read(aliasBomb(20));

    expect(chart.metadata.name).toBe('bomb');
  });
});
