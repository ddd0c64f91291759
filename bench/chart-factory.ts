import { gzipSync } from 'node:zlib';

/**
 * Minimal valid Helm chart archives, made in memory in microseconds: a gzipped ustar tarball with
 * `<name>/Chart.yaml`, `<name>/values.yaml` and one template, laid out as `helm package` does. Helm
 * itself (`helm repo index`) and the indexer read them, so both benchmarks index the same bytes.
 */
export interface ChartSpec {
  name: string;
  version: string;
  description?: string;
  appVersion?: string;
}

export function chartArchive(spec: ChartSpec): Buffer {
  const chartYaml = [
    'apiVersion: v2',
    `name: ${spec.name}`,
    `version: ${spec.version}`,
    `description: ${spec.description ?? `Benchmark chart ${spec.name}`}`,
    'type: application',
    `appVersion: "${spec.appVersion ?? spec.version}"`,
    '',
  ].join('\n');
  const configMap = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ .Release.Name }}-config',
    'data:',
    '  greeting: {{ .Values.greeting | quote }}',
    '',
  ].join('\n');
  const files: Array<[string, string]> = [
    [`${spec.name}/Chart.yaml`, chartYaml],
    [`${spec.name}/values.yaml`, 'greeting: hello\n'],
    [`${spec.name}/templates/configmap.yaml`, configMap],
  ];
  return gzipSync(tar(files), { level: 6 });
}

/** File name `helm package` gives the archive. */
export function chartFileName(spec: ChartSpec): string {
  return `${spec.name}-${spec.version}.tgz`;
}

/**
 * `count` chart versions spread over charts of `versionsPerChart` versions each, in a stable order:
 * chart-00000 1.0.0 … 1.0.(v-1), chart-00001 …, so the same count always gives the same archives.
 */
export function chartSpecs(count: number, versionsPerChart = 20, offset = 0): ChartSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset;
    const chart = Math.floor(n / versionsPerChart);
    return { name: `chart-${String(chart).padStart(5, '0')}`, version: `1.0.${n % versionsPerChart}` };
  });
}

const BLOCK = 512;
/** A fixed modification time keeps archives, and so their digests, reproducible. */
const MTIME = Math.floor(Date.UTC(2026, 0, 1) / 1000);

function tar(files: Array<[string, string]>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, text] of files) {
    const body = Buffer.from(text, 'utf8');
    blocks.push(header(path, body.length), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

function header(path: string, size: number): Buffer {
  if (Buffer.byteLength(path) > 100) throw new RangeError(`tar path longer than 100 bytes: ${path}`);
  const block = Buffer.alloc(BLOCK);
  block.write(path, 0, 100, 'utf8');
  block.write(octal(0o644, 8), 100);
  block.write(octal(0, 8), 108);
  block.write(octal(0, 8), 116);
  block.write(octal(size, 12), 124);
  block.write(octal(MTIME, 12), 136);
  block.fill(' ', 148, 156);
  block.write('0', 156);
  block.write('ustar\u000000', 257, 'binary');
  let checksum = 0;
  for (const byte of block) checksum += byte;
  block.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 'binary');
  return block;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}
