/**
 * Structured logs: one line per event worth an operator's attention, as text for
 * people or as JSON (one object per line with `ts`, `level`, `msg` and the
 * fields) for a log pipeline. Levels, from the fewest lines to the most: `error`,
 * `warn`, `info` (start, stop, each session's open and close, the bridge's state,
 * failed authentications, quota hits), `debug`. Nothing is logged per message
 * below `debug`, and a disabled level costs one comparison.
 *
 * @module
 */

/** How loud the log is. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** The levels, quietest first. */
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

/** How lines are written. */
export type LogFormat = "text" | "json";

/** The fields of a line: plain values only. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where the router, the apps and the bridge say what they do. */
export interface Logger {
  /** Whether lines of `level` are written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  /** Something failed and needs a person. */
  error(msg: string, fields?: LogFields): void;
  /** Something is wrong but handled. */
  warn(msg: string, fields?: LogFields): void;
  /** What the server does: lifecycle, sessions, the bridge. */
  info(msg: string, fields?: LogFields): void;
  /** Detail for a developer. */
  debug(msg: string, fields?: LogFields): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `text`. */
  format?: LogFormat;
  /** Default `info`. */
  level?: LogLevel;
  /** Where each line goes (without its newline). Default: standard error. */
  write?: (line: string) => void;
  /** The clock (tests pass their own). */
  now?: () => Date;
}

const encoder = new TextEncoder();

/**
 * A logger writing `format` lines of `level` and quieter.
 *
 * @example
 * ```ts
 * const log = createLogger({ format: "json", level: "info" });
 * log.info("session closed", { session: 42, reason: "goodbye" });
 * // {"ts":"2026-12-01T10:41:00.000Z","level":"info","msg":"session closed","session":42,"reason":"goodbye"}
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const now = options.now ?? (() => new Date());
  const line = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) > threshold) return;
    const ts = now().toISOString();
    if (format === "json") {
      write(JSON.stringify({ ts, level, msg, ...fields }));
      return;
    }
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`)
      .join(" ");
    write(`${ts} ${level.toUpperCase().padEnd(5)} ${msg}${rest === "" ? "" : " " + rest}`);
  };
  return {
    enabled: (level) => LOG_LEVELS.indexOf(level) <= threshold,
    error: (msg, fields) => line("error", msg, fields),
    warn: (msg, fields) => line("warn", msg, fields),
    info: (msg, fields) => line("info", msg, fields),
    debug: (msg, fields) => line("debug", msg, fields),
  };
}

/** A logger that writes nothing (the default of an embedded router and of the tests). */
export const SILENT: Logger = {
  enabled: () => false,
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
};
