import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadPipedConfig, redactPipedConfig } from "@pipecd-ts/config";
import { AppError, createLogger, signalOnTermination, supervise } from "@pipecd-ts/runtime";
import { createPiped } from "./piped.js";

const HELP = `piped — the pipecd-ts agent: deploys the applications of one cluster

Usage: piped --config FILE [--insecure] [--work-dir DIR] [--tools-dir DIR] [--log-level LEVEL]

A KUBERNETES platform provider without kubeConfigPath and masterURL (or none at all) uses the
in-cluster service account: KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA.

  --config FILE      piped config (kind Piped, PipeCD's format)
  --insecure         plain-text gRPC to the control plane (local setups and tests)
  --work-dir DIR     git mirrors and worktrees (default: $TMPDIR/piped-<pipedID>)
  --tools-dir DIR    helm, kubectl, kustomize and pinned helm-<V>/kustomize-<V> binaries
                     (default: PATH only)
  --grace-period MS  how long to drain on SIGTERM (default 10000)
  --service-account-dir DIR
                     in-cluster: where the token, ca.crt and namespace are mounted
                     (default /var/run/secrets/kubernetes.io/serviceaccount)
  --admin-port PORT  serve /healthz and /metrics (Prometheus) on PORT (PipeCD's default is 9085;
                     here none unless given)
  --admin-host HOST  the admin server's address (default 127.0.0.1; 0.0.0.0 in a pod)
  --slack-api-url URL
                     Slack's Web API for oauthToken receivers (default https://slack.com/api)
  --log-level LEVEL  trace|debug|info|warn|error (default info)
  -h, --help         show this help
`;

/** `--admin-port`: a port number (0 picks a free one), or undefined for no admin server. */
function adminPort(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new AppError("INVALID_ARGUMENT", `--admin-port must be a port number, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: "string" },
      insecure: { type: "boolean", default: false },
      "work-dir": { type: "string" },
      "tools-dir": { type: "string" },
      "grace-period": { type: "string", default: "10000" },
      "service-account-dir": { type: "string" },
      "slack-api-url": { type: "string" },
      "admin-port": { type: "string" },
      "admin-host": { type: "string" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.config)
    throw new AppError("INVALID_ARGUMENT", "--config FILE is required (see --help)");
  const config = await loadPipedConfig(values.config);
  const logger = createLogger({ name: "piped", level: values["log-level"] });
  logger.info({ config: redactPipedConfig(config) }, "starting piped");
  const piped = await createPiped({
    config,
    insecure: values.insecure,
    workDir: values["work-dir"] ?? join(tmpdir(), `piped-${config.pipedID}`),
    serviceAccountDir: values["service-account-dir"],
    toolsDir: values["tools-dir"],
    slackApiURL: values["slack-api-url"],
    adminPort: adminPort(values["admin-port"]),
    adminHost: values["admin-host"],
    logger,
  });
  const signal = signalOnTermination(logger);
  process.stderr.write(`piped ready pipedID=${config.pipedID} controlPlane=${config.apiAddress}\n`);
  try {
    await supervise(piped.services, {
      signal,
      gracePeriodMs: Number(values["grace-period"]) || 10_000,
      logger,
    });
  } finally {
    await piped.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`piped: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof AppError && err.code === "INVALID_ARGUMENT" ? 2 : 1);
  },
);
