/**
 * Reads a packaged chart (`helm package` output) in one streaming pass: the SHA-256 of the compressed
 * bytes (the index digest), gunzip, a tar walk with Helm's path rules (helm.sh/helm/v3
 * pkg/chart/loader/archive.go), and the metadata from `<top-level dir>/Chart.yaml` (plus
 * `requirements.yaml`, which Helm also unmarshals into the metadata). Memory stays bounded: only
 * those two files are buffered, and every size is capped (archive, decompressed total, Chart.yaml).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import { InvalidChartError, MetadataDecodeError, TarFormatError, YamlSyntaxError } from '../../errors';
import { decodeChartMetadata, mergeChartMetadata, validateMetadata } from '../repo/metadata';
import type { ChartArchive, ChartMetadata } from '../types';
import { parseGoYaml } from '../yaml/go-yaml-parse';
import { type TarEntry, TarReader } from './tar';

export interface ChartReadLimits {
  /** Largest compressed archive read (bytes). */
  maxArchiveBytes: number;
  /** Largest total decompressed size (bytes): the gzip-bomb guard. */
  maxUncompressedBytes: number;
  /** Largest Chart.yaml (and requirements.yaml) accepted (bytes). */
  maxChartYamlBytes: number;
  /**
   * The decoded metadata's text once YAML aliases are expanded: a 300-byte Chart.yaml of aliases can
   * otherwise become an index entry of hundreds of MB (helm itself writes 600 MB from one).
   */
  maxExpandedMetadataBytes: number;
}

/** Helm's own limits: 100 MiB decompressed chart (MaxDecompressedChartSize), 5 MiB per file (MaxDecompressedFileSize). */
export const DEFAULT_CHART_READ_LIMITS: ChartReadLimits = Object.freeze({
  maxArchiveBytes: 100 * 1024 * 1024,
  maxUncompressedBytes: 100 * 1024 * 1024,
  maxChartYamlBytes: 5 * 1024 * 1024,
  maxExpandedMetadataBytes: 4 * 1024 * 1024,
});

export type ChartSource = AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream;

interface ArchiveFiles {
  chartYaml?: Buffer;
  requirementsYaml?: Buffer;
  files: number;
}

/**
 * Streams a chart archive and returns its validated metadata, digest and size.
 * Throws InvalidChartError naming the reason when Helm could not index it or a limit is exceeded.
 */
export async function readChartArchive(
  source: ChartSource,
  limits: ChartReadLimits = DEFAULT_CHART_READ_LIMITS,
): Promise<ChartArchive> {
  const { digest, size, files } = await walkArchive(source, limits);
  if (files.chartYaml === undefined) {
    throw new InvalidChartError(
      files.files === 0 ? 'no files in chart archive' : 'Chart.yaml is missing from the chart directory',
    );
  }
  const metadata = parseChartMetadata(
    files.chartYaml,
    files.requirementsYaml,
    limits.maxExpandedMetadataBytes,
  );
  return { metadata, digest, size };
}

async function walkArchive(
  source: ChartSource,
  limits: ChartReadLimits,
): Promise<{ digest: string; size: number; files: ArchiveFiles }> {
  const hash = createHash('sha256');
  const gunzip = createGunzip();
  const files: ArchiveFiles = { files: 0 };
  const tar = new TarReader(archiveVisitor(files, limits));
  let size = 0;
  let inflated = 0;
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    gunzip.destroy(failure);
  };
  gunzip.on('data', (chunk: Buffer) => {
    if (failure !== undefined) return;
    inflated += chunk.length;
    if (inflated > limits.maxUncompressedBytes) {
      fail(
        new InvalidChartError(`the archive decompresses to more than ${limits.maxUncompressedBytes} bytes`),
      );
      return;
    }
    try {
      if (!tar.ended) tar.push(chunk);
    } catch (error) {
      fail(asChartError(error));
    }
  });
  // zlib's own errors (bad header, bad checksum) end the loop below at its next chunk.
  gunzip.on('error', (error: Error) => {
    failure ??= error;
  });
  const ended = once(gunzip, 'end');
  ended.catch(() => undefined);
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > limits.maxArchiveBytes) {
        throw new InvalidChartError(`the archive is larger than ${limits.maxArchiveBytes} bytes`);
      }
      hash.update(bytes);
      if (failure !== undefined) throw failure;
      if (!gunzip.write(bytes)) await once(gunzip, 'drain');
    }
    if (size === 0) throw new InvalidChartError('the archive is empty');
    gunzip.end();
    await ended;
    tar.finish();
  } catch (error) {
    gunzip.destroy();
    throw asChartError(failure ?? error);
  }
  if (failure !== undefined) throw failure;
  return { digest: hash.digest('hex'), size, files };
}

function archiveVisitor(files: ArchiveFiles, limits: ChartReadLimits) {
  return {
    entry(entry: TarEntry) {
      if (entry.type === 'directory' || entry.typeflag === 'g') return { collect: false as const };
      const path = chartPath(entry.name);
      files.files++;
      if (path === 'Chart.yaml' || path === 'requirements.yaml') {
        if (entry.type !== 'file') {
          throw new InvalidChartError(`${entry.name} is not a regular file (tar type '${entry.typeflag}')`);
        }
        if (path === 'Chart.yaml' && files.chartYaml !== undefined) {
          throw new InvalidChartError(`more than one top-level directory holds a Chart.yaml (${entry.name})`);
        }
        if (entry.size > limits.maxChartYamlBytes) {
          throw new InvalidChartError(`${entry.name} is larger than ${limits.maxChartYamlBytes} bytes`);
        }
        return { collect: true as const, maxBytes: limits.maxChartYamlBytes };
      }
      return { collect: false as const };
    },
    data(entry: TarEntry, bytes: Buffer) {
      if (chartPath(entry.name) === 'Chart.yaml') files.chartYaml = bytes;
      else files.requirementsYaml = bytes;
    },
  };
}

const DRIVE_PATH = /^[a-zA-Z]:\//;

/**
 * The path of an archive member inside the chart, with Helm's checks: the first path component (the
 * chart directory, whatever its name) is dropped; absolute paths, parent references, drive letters
 * and files outside a directory are refused.
 */
export function chartPath(name: string): string {
  const delimiter = name.includes('\\') ? '\\' : '/';
  const parts = name.split(delimiter);
  let path = parts.slice(1).join(delimiter).replaceAll(delimiter, '/');
  if (path.startsWith('/')) throw new InvalidChartError('chart illegally contains absolute paths');
  path = cleanPath(path);
  if (path === '.')
    throw new InvalidChartError(`chart illegally contains content outside the base directory: "${name}"`);
  if (path.startsWith('..')) throw new InvalidChartError('chart illegally references parent directory');
  if (DRIVE_PATH.test(path)) throw new InvalidChartError('chart contains illegally named files');
  if (parts[0] === 'Chart.yaml') throw new InvalidChartError('chart yaml not in base directory');
  return path;
}

/** Go's path.Clean for a relative path. */
function cleanPath(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return out.length === 0 ? '.' : out.join('/');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes and validates Chart.yaml (and requirements.yaml) as Helm's loader does. */
export function parseChartMetadata(
  chartYaml: Buffer,
  requirementsYaml?: Buffer,
  maxExpandedBytes = DEFAULT_CHART_READ_LIMITS.maxExpandedMetadataBytes,
): ChartMetadata {
  let metadata = decodeYamlFile(chartYaml, 'Chart.yaml', maxExpandedBytes, (document) =>
    decodeChartMetadata(document, { source: 'yaml', strict: false }),
  );
  if (requirementsYaml !== undefined) {
    const base = metadata;
    metadata = decodeYamlFile(requirementsYaml, 'requirements.yaml', maxExpandedBytes, (document) =>
      mergeChartMetadata(base, document, { source: 'yaml', strict: false }),
    );
  }
  metadata.apiVersion ??= 'v1';
  if (metadata.apiVersion !== 'v1' && metadata.apiVersion !== 'v2') {
    throw new InvalidChartError(`Chart.yaml: apiVersion "${String(metadata.apiVersion)}" is not v1 or v2`);
  }
  const problem = validateMetadata(metadata);
  if (problem !== undefined) throw new InvalidChartError(`Chart.yaml: ${problem.reason}`);
  return metadata as ChartMetadata;
}

function decodeYamlFile<T>(
  bytes: Buffer,
  file: string,
  maxExpandedBytes: number,
  decode: (document: ReturnType<typeof parseGoYaml>) => T,
): T {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new InvalidChartError(`${file} is not valid UTF-8`);
  }
  try {
    return decode(
      parseGoYaml(text, {
        strict: false,
        maxNodes: Math.max(100_000, text.length),
        maxExpandedBytes,
      }),
    );
  } catch (error) {
    if (error instanceof YamlSyntaxError || error instanceof MetadataDecodeError) {
      throw new InvalidChartError(`cannot load ${file}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function asChartError(error: unknown): Error {
  if (error instanceof InvalidChartError) return error;
  if (error instanceof TarFormatError) return new InvalidChartError(error.message, { cause: error });
  // zlib errors carry a Z_* code (checked structurally: they may come from another realm).
  const shape = error as { code?: unknown; message?: unknown } | null;
  if (typeof shape?.code === 'string' && shape.code.startsWith('Z_')) {
    return new InvalidChartError(`not a valid gzip archive: ${String(shape.message)}`, { cause: error });
  }
  return error as Error;
}
