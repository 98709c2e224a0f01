// Structured JSON-lines logging, one child logger per module. Fields whose
// names look like secrets are redacted, and strings that look like JWTs are
// masked, so tokens never reach the logs.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(module: string): Logger;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|credential|authorization|cookie|privatekey/i;
const JWT_LIKE = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;

export interface LoggerOptions {
  level?: LogLevel;
  /** where lines go; defaults to stdout (info/debug) and stderr (warn/error) */
  write?: (line: string, level: LogLevel) => void;
  /** epoch ms; injectable for tests */
  now?: () => number;
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(JWT_LIKE, '[redacted-jwt]');
  if (value instanceof Error) {
    return { name: value.name, message: scrub(value.message, depth) };
  }
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_FIELD.test(key) ? '[redacted]' : scrub(inner, depth + 1);
  }
  return out;
}

export function createLogger(module: string, options: LoggerOptions = {}): Logger {
  const threshold = levelRank[options.level ?? 'info'];
  const now = options.now ?? Date.now;
  const write =
    options.write ??
    ((line: string, level: LogLevel) => {
      (level === 'warn' || level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
    });
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (levelRank[level] < threshold) return;
    const record = {
      time: new Date(now()).toISOString(),
      level,
      module,
      msg: scrub(message, 0),
      ...(fields ? (scrub(fields, 0) as LogFields) : {}),
    };
    write(JSON.stringify(record), level);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    child: (child) => createLogger(`${module}.${child}`, options),
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
