import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger } from "pino";

/** Paths that must never reach a log line. */
const REDACT = [
  "key",
  "apiKey",
  "pipedKey",
  "password",
  "token",
  "secret",
  "authorization",
  "*.key",
  "*.apiKey",
  "*.pipedKey",
  "*.password",
  "*.token",
  "*.secret",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Component name, bound as `component`. */
  name: string;
  level?: string;
  /** Where to write; default stdout. */
  destination?: DestinationStream;
}

/** Creates the root pino logger of a process: JSON lines, ISO times, secrets redacted. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { component: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    opts.destination,
  );
}

/** A logger that discards everything (for tests and benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
