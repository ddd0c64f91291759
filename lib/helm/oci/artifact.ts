import { createHash } from 'node:crypto';
import { GoJsonWriter } from '../repo/go-json';
import type { ChartMetadata } from '../types';

/**
 * A chart as the OCI artifact `helm push` makes of it (helm.sh/helm/v3 pkg/registry, v3.21.4): the
 * archive as the one layer, json.Marshal of its metadata as the config, and a manifest of both with
 * helm's annotations. Byte for byte the same as helm's for the same archive and creation time, so a
 * chart pushed here and by `helm push` have the same digests (held by the tests against a registry).
 */

export const CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const CHART_LAYER_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

const ANNOTATION = {
  created: 'org.opencontainers.image.created',
  authors: 'org.opencontainers.image.authors',
  url: 'org.opencontainers.image.url',
  source: 'org.opencontainers.image.source',
  version: 'org.opencontainers.image.version',
  title: 'org.opencontainers.image.title',
  description: 'org.opencontainers.image.description',
} as const;
/** Chart annotations may not override these (helm's immutableOciAnnotations). */
const IMMUTABLE = new Set<string>([ANNOTATION.version, ANNOTATION.title]);

export interface Blob {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

export interface ChartArtifact {
  /** The chart version with `+` written `_`, as helm tags it (OCI tags allow no `+`). */
  tag: string;
  config: Blob;
  layer: Blob;
  manifest: Blob;
}

export function ociTag(version: string): string {
  return version.replaceAll('+', '_');
}

/**
 * `created` is the archive's modification time (helm push uses the file's mtime), written as Go's
 * time.RFC3339 in UTC, as a Lambda (TZ=UTC) writes it.
 */
export function chartArtifact(archive: Buffer, metadata: ChartMetadata, created: Date): ChartArtifact {
  const config = blob(
    CONFIG_MEDIA_TYPE,
    Buffer.from(marshal((json) => json.struct('Metadata', metadata, 0))),
  );
  const layer = blob(CHART_LAYER_MEDIA_TYPE, archive);
  const annotations = ociAnnotations(metadata, created.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const descriptor = (json: GoJsonWriter, item: Blob, depth: number) =>
    json.object(['mediaType', 'digest', 'size'], depth, (key, at) =>
      json.value(key === 'size' ? item.bytes.length : key === 'digest' ? item.digest : item.mediaType, at),
    );
  const manifest = marshal((json) => {
    const fields = [
      'schemaVersion',
      'config',
      'layers',
      ...(Object.keys(annotations).length > 0 ? ['annotations'] : []),
    ];
    json.object(fields, 0, (field, depth) => {
      if (field === 'schemaVersion') json.value(2, depth);
      else if (field === 'config') descriptor(json, config, depth);
      else if (field === 'layers') json.list([layer], depth, (item, at) => descriptor(json, item, at));
      else json.value(annotations, depth);
    });
  });
  return {
    tag: ociTag(String(metadata.version)),
    config,
    layer,
    manifest: blob(MANIFEST_MEDIA_TYPE, Buffer.from(manifest)),
  };
}

/** helm's generateOCIAnnotations: chart fields first, then the chart's own annotations but two. */
function ociAnnotations(metadata: ChartMetadata, created: string): Record<string, string> {
  const annotations: Record<string, string> = {};
  const add = (key: string, value: unknown) => {
    if (typeof value === 'string' && value.trim().length > 0) annotations[key] = value;
  };
  add(ANNOTATION.description, metadata.description);
  add(ANNOTATION.title, metadata.name);
  add(ANNOTATION.version, metadata.version);
  add(ANNOTATION.url, metadata.home);
  add(ANNOTATION.created, created);
  const sources = metadata.sources as string[] | undefined;
  if (sources && sources.length > 0) add(ANNOTATION.source, sources[0]);
  const maintainers = metadata.maintainers as Array<{ name?: string; email?: string } | null> | undefined;
  if (maintainers && maintainers.length > 0) {
    const authors = maintainers
      .map((maintainer) => `${maintainer?.name ?? ''}${maintainer?.email ? ` (${maintainer.email})` : ''}`)
      .join(', ');
    add(ANNOTATION.authors, authors);
  }
  const own = (metadata.annotations ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(own)) {
    if (!IMMUTABLE.has(key)) annotations[key] = value;
  }
  return annotations;
}

function marshal(write: (json: GoJsonWriter) => void): string {
  const json = new GoJsonWriter();
  write(json);
  return json.text();
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes };
}
