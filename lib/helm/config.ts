import { z } from 'zod';
import { ConfigError } from '../errors';

/** Settings of the Helm repository indexer; validated once, at cold start or CLI start. */
export interface IndexerConfig {
  /** The bucket holding the charts and the index. */
  bucket: string;
  /** Key prefix of the repository: `''` (whole bucket) or a path ending in `/`. Default `charts/`. */
  prefix: string;
  /** Key of the index. Default `${prefix}index.yaml`. */
  indexKey: string;
  /** Absolute URL the chart URLs are built on; relative URLs (to the index) when absent. */
  baseUrl?: string;
  /**
   * A cap on the attempts of one conditional index write (the first included) before a retryable
   * error. Unset: in Lambda, attempts go on while the invocation has time left; elsewhere (the CLI),
   * DEFAULT_WRITE_ATTEMPTS.
   */
  maxAttempts?: number;
  /** Charts read at the same time during a rebuild or a large event. */
  concurrency: number;
  /**
   * How index.yaml is written: `yaml` (default, as `helm repo index`) or `json` (as
   * `helm repo index --json`; helm 3.13 and later read it several times faster). Either is read.
   */
  indexFormat: IndexFormat;
  /** Every chart also pushed to an OCI registry (unset: no OCI publishing). */
  oci?: {
    registry: string;
    repositoryPrefix: string;
    deleteTags: boolean;
    plainHttp: boolean;
  };
}

export type IndexFormat = 'yaml' | 'json';

export const DEFAULT_PREFIX = 'charts/';
export const DEFAULT_CONCURRENCY = 8;

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const schema = z.strictObject({
  bucket: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .regex(BUCKET_NAME, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)'),
  prefix: z
    .string()
    .refine((value) => !value.startsWith('/'), 'must not start with "/"')
    .refine((value) => value === '' || value.endsWith('/'), 'must be empty or end with "/"')
    .default(DEFAULT_PREFIX),
  indexKey: z
    .string()
    .min(1, 'must not be empty')
    .refine((value) => !value.startsWith('/') && !value.endsWith('/'), 'must be an object key, not a folder')
    .refine((value) => !value.toLowerCase().endsWith('.tgz'), 'must not end with ".tgz"')
    .optional(),
  baseUrl: z
    .string()
    .refine(isAbsoluteUrl, 'must be an absolute http, https or s3 URL without query or fragment')
    .optional(),
  maxAttempts: z.number().int('must be an integer').min(1).max(1000).optional(),
  concurrency: z.number().int('must be an integer').min(1).max(64).default(DEFAULT_CONCURRENCY),
  indexFormat: z.enum(['yaml', 'json'], { error: 'must be yaml or json' }).default('yaml'),
  ociRegistry: z
    .string()
    .regex(
      /^[a-z0-9.-]+(:\d{1,5})?$/,
      'must be a registry host, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    )
    .optional(),
  ociRepositoryPrefix: z
    .string()
    .regex(
      /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/,
      'must be a repository path such as helm',
    )
    .default('helm'),
  ociDeleteTags: z.boolean().default(true),
  ociPlainHttp: z.boolean().default(false),
});

export type IndexerConfigInput = z.input<typeof schema>;

/**
 * Validates indexer settings and fills the defaults. Unknown keys are an error (a typo is not a
 * silent default); the message names every wrong field, by `labels[field]` when given (env names).
 */
export function parseIndexerConfig(
  input: unknown,
  labels: Partial<Record<string, string>> = {},
): IndexerConfig {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(`invalid Helm indexer configuration: ${describeIssues(result.error, labels)}`, {
      cause: result.error,
    });
  }
  const { indexKey, baseUrl, ociRegistry, ociRepositoryPrefix, ociDeleteTags, ociPlainHttp, ...rest } =
    result.data;
  return {
    ...rest,
    indexKey: indexKey ?? `${rest.prefix}index.yaml`,
    ...(baseUrl === undefined ? {} : { baseUrl }),
    ...(ociRegistry === undefined
      ? {}
      : {
          oci: {
            registry: ociRegistry,
            repositoryPrefix: ociRepositoryPrefix,
            deleteTags: ociDeleteTags,
            plainHttp: ociPlainHttp,
          },
        }),
  };
}

const ENV_NAMES = {
  bucket: 'CHART_BUCKET',
  prefix: 'CHART_PREFIX',
  indexKey: 'CHART_INDEX_KEY',
  baseUrl: 'CHART_BASE_URL',
  maxAttempts: 'CHART_MAX_ATTEMPTS',
  concurrency: 'CHART_CONCURRENCY',
  indexFormat: 'CHART_INDEX_FORMAT',
  ociRegistry: 'CHART_OCI_REGISTRY',
  ociRepositoryPrefix: 'CHART_OCI_REPOSITORY_PREFIX',
  ociDeleteTags: 'CHART_OCI_DELETE_TAGS',
  ociPlainHttp: 'CHART_OCI_PLAIN_HTTP',
} as const;

/**
 * Reads the indexer settings from a Lambda environment (passed in; lib/ never reads process.env).
 * An unset or empty optional variable takes the default; numbers must be integers.
 */
export function indexerConfigFromEnv(env: Record<string, string | undefined>): IndexerConfig {
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const number = (name: string) => integerOrText(value(name));
  const input: Record<string, unknown> = {
    bucket: value(ENV_NAMES.bucket),
    prefix: env[ENV_NAMES.prefix] ?? undefined,
    indexKey: value(ENV_NAMES.indexKey),
    baseUrl: value(ENV_NAMES.baseUrl),
    maxAttempts: number(ENV_NAMES.maxAttempts),
    concurrency: number(ENV_NAMES.concurrency),
    indexFormat: value(ENV_NAMES.indexFormat),
    ociRegistry: value(ENV_NAMES.ociRegistry),
    ociRepositoryPrefix: value(ENV_NAMES.ociRepositoryPrefix),
    ociDeleteTags: booleanOrText(value(ENV_NAMES.ociDeleteTags)),
    ociPlainHttp: booleanOrText(value(ENV_NAMES.ociPlainHttp)),
  };
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  return parseIndexerConfig(defined, ENV_NAMES);
}

/** `true`/`false` as a boolean; other text stays text, rejected by name later. */
function booleanOrText(raw: string | undefined): boolean | string | undefined {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

/** A numeric setting as a number when it is a plain integer; otherwise the text, rejected by name later. */
export function integerOrText(raw: string | undefined): number | string | undefined {
  if (raw === undefined) return undefined;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** `field: problem; field: problem`, fields by their label when one is given (e.g. env names). */
export function describeIssues(error: z.ZodError, labels: Partial<Record<string, string>> = {}): string {
  return error.issues
    .map((issue) => {
      const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
      return `${labels[field] ?? (field || 'value')}: ${issue.message}`;
    })
    .join('; ');
}

function isAbsoluteUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return ['http:', 'https:', 's3:'].includes(url.protocol) && url.host !== '' && !url.search && !url.hash;
  } catch {
    return false;
  }
}
