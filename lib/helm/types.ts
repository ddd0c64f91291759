/**
 * The Helm repository index model, as `helm repo index` writes it (helm/helm pkg/repo/index.go).
 * Types only; chart reading lives in chart.ts, the index file in index-file.ts.
 */

/** Chart.yaml metadata as Helm copies it into an index entry (keys kept as Helm names them). */
export interface ChartMetadata {
  apiVersion: 'v1' | 'v2';
  name: string;
  version: string;
  [field: string]: unknown;
}

/** One chart version in index.yaml: the metadata plus where and what the archive is. */
export interface ChartVersionEntry extends ChartMetadata {
  /** null is Go's nil slice (an entry read without urls), which helm writes `urls: null`, not `[]`. */
  urls: string[] | null;
  /** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints it. */
  created: string;
  /** Lowercase hex SHA-256 of the whole .tgz, no prefix. */
  digest: string;
}

export interface IndexFile {
  apiVersion: 'v1';
  /**
   * Chart name → versions, newest first (SemVer descending). null is Go's nil list (a chart read as
   * `name: null`), which helm writes back as `null`.
   */
  entries: Record<string, ChartVersionEntry[] | null>;
  /**
   * Set on an index read with `entries` absent or null: Go's nil map, which helm writes back as
   * `entries: null` while it has no entries (an empty map is written `{}`).
   */
  entriesNil?: true;
  generated: string;
  serverInfo?: Record<string, unknown>;
  /** Kept when present in an existing index (Helm writes it only when non-empty). */
  publicKeys?: string[];
  annotations?: Record<string, string>;
}

/** A chart archive read from storage: validated metadata and the archive's digest. */
export interface ChartArchive {
  metadata: ChartMetadata;
  digest: string;
  /** Bytes of the compressed archive. */
  size: number;
}

/** One change to apply to the index, derived from one S3 record (or one rebuild item). */
export type IndexChange =
  | { kind: 'upsert'; key: string; archive: ChartArchive; created: string }
  | { kind: 'remove'; key: string };
