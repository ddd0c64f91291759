/**
 * Builds chart archives (.tgz) in tests, including hostile ones: a minimal tar writer (ustar, with PAX
 * or GNU long names) and gzip from node:zlib.
 */
import { createGzip, gzipSync } from 'node:zlib';

export interface TarEntrySpec {
  name: string;
  content?: string | Buffer;
  /** Tar type flag: '0' file (default), '5' directory, '2' symlink, '1' hard link, or any other. */
  typeflag?: string;
  linkName?: string;
  /** How a name longer than 100 bytes is written. */
  longName?: 'pax' | 'gnu';
}

const BLOCK = 512;

function header(name: string, size: number, typeflag: string, linkName = ''): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  block.write(typeflag, 156, 'latin1');
  block.write(linkName, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer[] {
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return [data, Buffer.alloc(padding)];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** A tar archive of the entries, ended by the two zero blocks unless `endMarker` is false. */
export function tar(entries: TarEntrySpec[], options: { endMarker?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    const typeflag = entry.typeflag ?? '0';
    let name = entry.name;
    if (Buffer.byteLength(name) > 100) {
      if (entry.longName === 'gnu') {
        const longName = Buffer.from(`${name}\0`);
        parts.push(header('././@LongLink', longName.length, 'L'), ...padded(longName));
      } else {
        const pax = Buffer.from(paxRecord('path', name));
        parts.push(header('PaxHeader', pax.length, 'x'), ...padded(pax));
      }
      name = name.slice(0, 99);
    }
    const size = typeflag === '0' ? data.length : 0;
    parts.push(header(name, size, typeflag, entry.linkName));
    if (size > 0) parts.push(...padded(data));
  }
  if (options.endMarker !== false) parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

export const MINIMAL_CHART_YAML = 'apiVersion: v2\nname: demo\nversion: 1.0.0\n';

/** A chart archive like `helm package` writes: `<dir>/Chart.yaml` first, then the other files. */
export function chartArchive(options: {
  chartYaml?: string;
  dir?: string;
  files?: Record<string, string>;
}): Buffer {
  const dir = options.dir ?? 'demo';
  const entries: TarEntrySpec[] = [
    { name: `${dir}/Chart.yaml`, content: options.chartYaml ?? MINIMAL_CHART_YAML },
  ];
  for (const [path, content] of Object.entries(options.files ?? {}))
    entries.push({ name: `${dir}/${path}`, content });
  return gzip(tar(entries));
}

/**
 * A small .tgz that inflates to a tar with one file of `bytes` zero bytes (a gzip bomb): the
 * compressed data is produced in a stream, so the test never holds the inflated size in memory.
 */
export async function gzipBomb(bytes: number, options: { chartYamlFirst?: boolean } = {}): Promise<Buffer> {
  const gzipStream = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzipStream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzipStream.on('end', resolve);
    gzipStream.on('error', reject);
  });
  const write = async (data: Buffer): Promise<void> => {
    if (!gzipStream.write(data)) await new Promise((resolve) => gzipStream.once('drain', resolve));
  };
  if (options.chartYamlFirst)
    await write(tar([{ name: 'demo/Chart.yaml', content: MINIMAL_CHART_YAML }], { endMarker: false }));
  await write(header('demo/zeros.bin', bytes, '0'));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < bytes; written += zeros.length) {
    await write(zeros.subarray(0, Math.min(zeros.length, bytes - written)));
  }
  await write(Buffer.alloc(((BLOCK - (bytes % BLOCK)) % BLOCK) + BLOCK * 2));
  gzipStream.end();
  await done;
  return Buffer.concat(chunks);
}

/** The archive as an async iterable of chunks of the given size (as S3 streams it). */
export async function* chunked(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}
