export { freePort } from "./ports.js";
export { startPostgres, type PgCluster } from "./postgres.js";
export { ensureK8sTools, repoRoot, runCommand } from "./tools.js";
export { eventually } from "./wait.js";
export {
  startStack,
  type Stack,
  type StackOptions,
  type StackProcess,
  type StackUser,
  type TestRepo,
} from "./stack.js";
