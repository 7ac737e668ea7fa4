export { freePort } from "./ports.js";
export { startPostgres, type PgCluster } from "./postgres.js";
export {
  KUBECTL_RELEASES,
  ensureK8sTools,
  helm,
  kubectl,
  kubectlRelease,
  repoRoot,
  runCommand,
} from "./tools.js";
export { eventually, isProcessAlive } from "./wait.js";
export { SseReader, type SseEvent } from "./sse.js";
export {
  controlPlaneArgs,
  git,
  launch,
  pipedConfigYaml,
  startStack,
  createTestRepo,
  type DeploymentJson,
  type PipectlResult,
  type Stack,
  type StackCluster,
  type StackReplica,
  type StackOptions,
  type StackProcess,
  type StackUser,
  type TestRepo,
} from "./stack.js";
export {
  startExporter,
  startPrometheus,
  waitForPrometheusValue,
  type MetricsExporter,
  type PrometheusServer,
} from "./prometheus.js";
export { registerTestPiped, type TestPiped } from "./piped-client.js";
