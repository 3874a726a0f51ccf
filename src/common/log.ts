// Minimal structured logging to stderr. Level from CURVEFS_LOG (debug|info|warn|error|silent).
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
const threshold = ORDER[(process.env.CURVEFS_LOG as Level | 'silent') ?? 'info'] ?? ORDER.info;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export function createLogger(component: string): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < threshold) return;
    const extra = fields ? ' ' + JSON.stringify(fields, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) : '';
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} [${component}] ${msg}${extra}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => createLogger(`${component}/${c}`),
  };
}
