import { parseArgs } from "node:util";
import { startKubeSim } from "./server.js";

const HELP = `kube-sim — a Kubernetes API server emulator for tests and demos

Usage: kube-sim --kubeconfig PATH [--port N] [--ready-delay MS] [--plain-http] [--state-file FILE]

  --kubeconfig PATH   where to write the kubeconfig (CA data, bearer token, context, namespace default)
  --port N            port on 127.0.0.1 (default 6443; 0 = any free port)
  --ready-delay MS    how long new pods take to become Ready (default 500)
  --plain-http        serve HTTP instead of HTTPS (kubeconfig says insecure-skip-tls-verify)
  --state-file FILE   load objects from FILE at start and save them on exit
  --token TOKEN       bearer token to accept (default: generated)
  --authorization-mode MODE
                      AlwaysAllow (default) or RBAC: ServiceAccount tokens (kubectl create token)
                      are then authorized by the stored Roles/ClusterRoles and bindings; the admin
                      token always bypasses
  -h, --help          show this help

Prints "kube-sim ready <url> kubeconfig=<path>" and runs until SIGINT/SIGTERM.
Fault injection: POST /kube-sim/faults {"verb","resource","name","status","delayMs","count","probability"},
DELETE /kube-sim/faults clears; GET|PUT /kube-sim/authorization {"mode"} (admin token only).
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: "string" },
      port: { type: "string", default: "6443" },
      "ready-delay": { type: "string", default: "500" },
      "plain-http": { type: "boolean", default: false },
      "state-file": { type: "string" },
      token: { type: "string" },
      "authorization-mode": { type: "string", default: "AlwaysAllow" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.kubeconfig) throw new Error("--kubeconfig PATH is required (see --help)");
  const port = Number(values.port);
  const readyDelayMs = Number(values["ready-delay"]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: not a port: ${values.port}`);
  if (!Number.isFinite(readyDelayMs) || readyDelayMs < 0)
    throw new Error(`--ready-delay: not a duration in ms: ${values["ready-delay"]}`);
  const mode = values["authorization-mode"];
  if (mode !== "AlwaysAllow" && mode !== "RBAC")
    throw new Error(`--authorization-mode: must be AlwaysAllow or RBAC, got ${mode}`);
  const sim = await startKubeSim({
    kubeconfigPath: values.kubeconfig,
    port,
    readyDelayMs,
    plainHttp: values["plain-http"],
    stateFile: values["state-file"],
    token: values.token,
    authorizationMode: mode,
  });
  process.stdout.write(`kube-sim ready ${sim.url} kubeconfig=${sim.kubeconfigPath}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await sim.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`kube-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
