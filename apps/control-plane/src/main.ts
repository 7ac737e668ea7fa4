import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadControlPlaneConfig } from "@pipecd-ts/config";
import { AppError, createLogger, signalOnTermination, supervise } from "@pipecd-ts/runtime";
import { hashPassword } from "./auth/secrets.js";
import { startControlPlane } from "./server.js";

const HELP = `pipecd-server — the pipecd-ts control plane (REST API, web UI, gRPC PipedService)

Usage:
  pipecd-server [flags]
  pipecd-server hash-password      read a password on stdin, print its scrypt hash for the config

Flags:
  --data-dir DIR                   state directory (default ./.pipecd-data); the first start on an
                                   empty datastore writes the admin API key to DIR/admin-api-key
  --datastore URL                  sqlite:PATH (default sqlite:<data-dir>/pipecd.db) or
                                   postgres://user:pass@host:port/db (several replicas may share it)
  --datastore-file FILE            read the datastore URL from FILE instead (a mounted Secret), so
                                   a password never shows in the process arguments
  --http-port N                    REST API / web UI port (default 8080)
  --grpc-port N                    PipedService port for pipeds (default 9080)
  --listen-host HOST               address both listeners bind (default 0.0.0.0)
  --config FILE                    control-plane config (kind ControlPlane): project id, web users
                                   with scrypt password hashes and roles
  --bootstrap-admin-key-file FILE  on an empty datastore, use the admin API key in FILE
                                   ("<keyId>.<secret>") instead of generating one
  --tls-cert-file FILE             serve both listeners over TLS with this certificate (PEM)...
  --tls-key-file FILE              ...and this private key (PEM); both or neither
  --secure-cookies                 mark the session cookie Secure without --tls-cert-file, when TLS
                                   ends at a proxy or Ingress in front of the control plane
  --web-dir DIR                    built web UI to serve at / (default: apps/web/dist of this
                                   checkout, built by 'make bootstrap')
  --grace-period DURATION_MS       how long to drain on SIGTERM before forcing (default 10000)
  --log-level LEVEL                trace|debug|info|warn|error (default info)
  -h, --help                       show this help
`;

// apps/control-plane/src/main.ts → apps/web/dist (a production image passes --web-dir).
const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../web/dist", import.meta.url));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function port(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new AppError("INVALID_ARGUMENT", `--${name}: not a port: ${v}`);
  return n;
}

/**
 * The datastore URL from `--datastore-file` (a mounted Secret), trimmed. The URL carries the
 * PostgreSQL password, so neither it nor the file's content appears in an error or a log.
 */
async function readDatastoreFile(path: string, flag: string | undefined): Promise<string> {
  if (flag !== undefined)
    throw new AppError("INVALID_ARGUMENT", "give only one of --datastore and --datastore-file");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AppError(
      "INVALID_ARGUMENT",
      `--datastore-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
  const url = text.trim();
  if (url === "") throw new AppError("INVALID_ARGUMENT", `--datastore-file: ${path} is empty`);
  return url;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "hash-password") {
    const password = (await readStdin()).replace(/\r?\n$/, "");
    if (!password) {
      process.stderr.write("hash-password: empty password on stdin\n");
      return 2;
    }
    process.stdout.write((await hashPassword(password)) + "\n");
    return 0;
  }
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      "data-dir": { type: "string", default: "./.pipecd-data" },
      datastore: { type: "string" },
      "datastore-file": { type: "string" },
      "http-port": { type: "string", default: "8080" },
      "grpc-port": { type: "string", default: "9080" },
      "listen-host": { type: "string", default: "0.0.0.0" },
      config: { type: "string" },
      "bootstrap-admin-key-file": { type: "string" },
      "tls-cert-file": { type: "string" },
      "tls-key-file": { type: "string" },
      "secure-cookies": { type: "boolean", default: false },
      "web-dir": { type: "string", default: DEFAULT_WEB_DIR },
      "grace-period": { type: "string", default: "10000" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const logger = createLogger({ name: "control-plane", level: values["log-level"] });
  if (!!values["tls-cert-file"] !== !!values["tls-key-file"])
    throw new AppError("INVALID_ARGUMENT", "--tls-cert-file and --tls-key-file go together");
  const tls =
    values["tls-cert-file"] && values["tls-key-file"]
      ? {
          cert: await readFile(values["tls-cert-file"]),
          key: await readFile(values["tls-key-file"]),
        }
      : undefined;
  const datastoreUrl = values["datastore-file"]
    ? await readDatastoreFile(values["datastore-file"], values.datastore)
    : values.datastore;
  const config = values.config ? await loadControlPlaneConfig(values.config) : undefined;
  const signal = signalOnTermination(logger);
  const graceMs = Number(values["grace-period"]) || 10_000;
  const cp = await startControlPlane({
    dataDir: values["data-dir"],
    datastoreUrl,
    httpPort: port("http-port", values["http-port"]),
    grpcPort: port("grpc-port", values["grpc-port"]),
    listenHost: values["listen-host"],
    config,
    bootstrapAdminKeyFile: values["bootstrap-admin-key-file"],
    tls,
    secureCookies: values["secure-cookies"],
    logger,
    webDir: values["web-dir"],
  });
  // One line for humans and scripts that wait for readiness (the JSON log has the same).
  process.stderr.write(`pipecd-server ready http=${cp.httpUrl} grpc=${cp.grpcAddress}\n`);
  await supervise(
    [
      {
        name: "control-plane",
        run: async (stop) => {
          await new Promise<void>((resolve) =>
            stop.addEventListener("abort", () => resolve(), { once: true }),
          );
          await cp.close(graceMs);
        },
      },
    ],
    { signal, gracePeriodMs: graceMs + 2_000, logger },
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // One line that says why, never a stack trace: start-up failures are read by operators
    // (a port in use, a bad flag, a database that must be restored), not by developers.
    const msg =
      err instanceof AppError
        ? err.message
        : err instanceof Error
          ? `${err.name === "Error" ? "" : `${err.name}: `}${err.message}`
          : String(err);
    process.stderr.write(`pipecd-server: ${msg.replace(/\s*\n\s*/g, " ")}\n`);
    process.exit(err instanceof AppError && err.code === "INVALID_ARGUMENT" ? 2 : 1);
  },
);
