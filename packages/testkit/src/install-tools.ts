// Installs every Kubernetes client binary the tests run (kubectl v1.33 + helm, and the other
// kubectl releases of KUBECTL_RELEASES) before the tests start, so no test file spends its
// time budget downloading them. Run by `make test`; idempotent (a few ms when present).
import { KUBECTL_RELEASES, ensureK8sTools, kubectlRelease } from "./tools.js";

const started = Date.now();
await Promise.all([
  ensureK8sTools(),
  ...Object.keys(KUBECTL_RELEASES).map((minor) =>
    kubectlRelease(minor as keyof typeof KUBECTL_RELEASES),
  ),
]);
const ms = Date.now() - started;
if (ms > 1000)
  console.error(`tools: kubectl releases and helm installed in ${(ms / 1000).toFixed(1)} s`);
