/**
 * One error hierarchy for the whole project. Every failure is either retryable (throttling, 5xx,
 * a lost race) or terminal (bad configuration, malformed policy, access denied). Handlers map
 * these in one place; the core never decides how a Lambda invocation ends.
 */
export class IrsaReconcilerError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super(message, options);
    this.name = 'IrsaReconcilerError';
    this.retryable = options?.retryable ?? false;
  }
}

/** A configuration value is missing or wrong; the message names the field. */
export class ConfigError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'ConfigError';
  }
}

/** A policy template cannot be rendered (unknown variable, invalid JSON, over IAM's size limit). */
export class TemplateError extends ConfigError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TemplateError';
  }
}

/** An incoming Lambda event does not have the expected shape. */
export class InvalidEventError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'InvalidEventError';
  }
}

/**
 * A request that does not come from this deployment's own stack (another StackId, a ResponseURL that is
 * not CloudFormation's, a configuration version the deployment did not write, a Delete while the stack
 * is not being deleted): refused before any change.
 */
export class RefusedRequestError extends InvalidEventError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RefusedRequestError';
  }
}

/** A reconcile finished, but some region could not be scanned or some action failed. */
export class ReconcileFailedError extends IrsaReconcilerError {
  constructor(message: string, options: ErrorOptions & { retryable: boolean }) {
    super(message, options);
    this.name = 'ReconcileFailedError';
  }
}

/**
 * Another run holds the deployment's run lease (lib/lambda/lease.ts): retryable, since that run ends or
 * its lease expires.
 */
export class LeaseBusyError extends IrsaReconcilerError {
  readonly heldBy: string;
  readonly expiresAt: Date;

  constructor(heldBy: string, expiresAt: Date) {
    super(`the run lease is held by ${heldBy} until ${expiresAt.toISOString()}`, { retryable: true });
    this.name = 'LeaseBusyError';
    this.heldBy = heldBy;
    this.expiresAt = expiresAt;
  }
}

/** The handler did not finish before its deadline. */
export class DeadlineExceededError extends IrsaReconcilerError {
  constructor(message: string) {
    super(message, { retryable: true });
    this.name = 'DeadlineExceededError';
  }
}

/** A document is not valid YAML as yaml.v2 reads it (the Helm index and Chart.yaml codec). */
export class YamlSyntaxError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'YamlSyntaxError';
  }
}

/** A document does not fit Helm's types (a string where a list belongs, an unknown field in strict mode). */
export class MetadataDecodeError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'MetadataDecodeError';
  }
}

/** A chart archive is not a well-formed tar stream. */
export class TarFormatError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'TarFormatError';
  }
}

/** A write would touch a resource this deployment does not own. */
export class NotOwnedError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'NotOwnedError';
  }
}

/** A chart archive cannot be indexed (not a gzip tar, no Chart.yaml, invalid metadata, over a limit). */
export class InvalidChartError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'InvalidChartError';
  }
}

/** An existing index file is damaged or not a Helm index; it must never be silently replaced. */
export class IndexFormatError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'IndexFormatError';
  }
}

/**
 * The index is larger than this function's memory can update; it was left unchanged. Terminal: the same
 * event would fail again until the memory is raised or the index shrinks.
 */
export class IndexTooLargeError extends IrsaReconcilerError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, retryable: false });
    this.name = 'IndexTooLargeError';
  }
}

/** An AWS call failed; `retryable` follows the SDK's own classification of the error. */
export class AwsCallError extends IrsaReconcilerError {
  readonly operation: string;
  readonly code: string;

  constructor(
    operation: string,
    code: string,
    message: string,
    options: ErrorOptions & { retryable: boolean },
  ) {
    super(`${operation} failed: ${code}: ${message}`, options);
    this.name = 'AwsCallError';
    this.operation = operation;
    this.code = code;
  }
}

const RETRYABLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'ServiceFailure',
  'ConcurrentModification',
  'ConcurrentModificationException',
  'ConditionalRequestConflict',
  'RequestTimeout',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** The AWS error code of an SDK (or network) error, or undefined for anything else. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const shape = error as SdkErrorShape;
  if (typeof shape.code === 'string') return shape.code;
  if (typeof shape.name === 'string' && shape.name !== 'Error') return shape.name;
  return undefined;
}

export function isRetryableAwsError(error: unknown): boolean {
  if (error instanceof IrsaReconcilerError) return error.retryable;
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as SdkErrorShape;
  const code = awsErrorCode(error);
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (shape.$retryable) return true;
  const status = shape.$metadata?.httpStatusCode;
  return shape.$fault === 'server' || (status !== undefined && (status >= 500 || status === 429));
}

/** Wraps any error from an AWS call into the hierarchy, keeping the original as `cause`. */
export function toAwsCallError(operation: string, error: unknown): IrsaReconcilerError {
  if (error instanceof IrsaReconcilerError) return error;
  const code = awsErrorCode(error) ?? 'UnknownError';
  const message = error instanceof Error ? error.message : String(error);
  return new AwsCallError(operation, code, message, { cause: error, retryable: isRetryableAwsError(error) });
}

export function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error);
  return (
    code === 'NoSuchEntity' ||
    code === 'NoSuchEntityException' ||
    code === 'ResourceNotFoundException' ||
    code === 'NoSuchKey' ||
    code === 'NotFound'
  );
}

/** A short readable description of any thrown value, for reports and CloudFormation reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
