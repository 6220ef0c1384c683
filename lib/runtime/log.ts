/** Severity levels in increasing order. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A structured logger: constant messages, values in fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry these fields. */
  child(fields: Record<string, unknown>): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Turns an Error (or anything thrown) into loggable fields without stack noise. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code === undefined ? { error: err.message } : { error: err.message, code };
  }
  return { error: String(err) };
}

/**
 * Creates a logger writing one JSON object per line (`time`, `level`, `msg`, `service`, then
 * fields) to `write` (stdout by default). Lines below `level` are discarded.
 */
export function createLogger(options: {
  service: string;
  level?: LogLevel;
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
}): Logger {
  const min = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const base = options.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < min) return;
    const line = { time: new Date().toISOString(), level, msg, service: options.service, ...base, ...fields };
    write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that discards everything (for tests and benchmarks). */
export const silentLogger: Logger = createLogger({ service: 'silent', level: 'error', write: () => {} });
