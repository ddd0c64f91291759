import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';

/**
 * The project's logger: Powertools for AWS Lambda's Logger (JSON lines as CloudWatch Logs Insights
 * expects, errors with name, message, cause and stack trace, `cold_start` and the function's fields
 * once given the Lambda context, Lambda's own log level when the function sets one) behind the small
 * interface the core is written against, so the core never depends on a logging library.
 */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** The same logger with more fields on every line. */
  child(fields: Record<string, unknown>): Logger;
  /** A child for one invocation: the Lambda context's fields (`cold_start`, `function_request_id`, ...) added. */
  forInvocation(context: Context, fields?: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel | 'SILENT';
  service?: string;
  /** Where lines go instead of stdout (a CLI's stderr, a test's capture). */
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
}

/**
 * Powertools' Logger (through its documented extension points): writing to `write` when one is given,
 * and one cold start per execution environment for the whole family of loggers (Powertools keeps it per
 * instance, and every invocation gets a child of its own).
 */
class WritingLogger extends PowertoolsLogger {
  private readonly containerStart: { pending: boolean };

  constructor(
    options: ConstructorOptions,
    private readonly write?: (line: string) => void,
    coldStart?: { pending: boolean },
  ) {
    super(options);
    this.containerStart = coldStart ?? { pending: super.getColdStart() };
  }

  override getColdStart(): boolean {
    const pending = this.containerStart.pending;
    this.containerStart.pending = false;
    return pending;
  }

  protected override createLogger(options?: ConstructorOptions): PowertoolsLogger {
    return new WritingLogger(options ?? {}, this.write, this.containerStart);
  }

  protected override printLog(logLevel: number, log: Parameters<PowertoolsLogger['printLog']>[1]): void {
    if (!this.write) {
      super.printLog(logLevel, log);
      return;
    }
    this.write(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const logger = new WritingLogger(
    {
      logLevel: options.level ?? 'INFO',
      serviceName: options.service ?? 'irsa-reconciler',
      ...(options.fields ? { persistentKeys: options.fields } : {}),
    },
    options.write,
  );
  return adapt(logger);
}

function adapt(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, fields ?? {}),
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
    child: (fields) => adapt(logger.createChild({ persistentKeys: fields })),
    forInvocation: (context, fields) => {
      const child = logger.createChild({ persistentKeys: fields ?? {} });
      child.addContext(context);
      return adapt(child);
    },
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = createLogger({ level: 'SILENT', write: () => {} });
