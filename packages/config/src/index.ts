export {
  ConfigError,
  IssueCollector,
  YamlSource,
  formatPath,
  parseDuration,
  type ConfigIssue,
} from "./source.js";
export {
  DEFAULT_CONTROL_PLANE_CONFIG,
  loadControlPlaneConfig,
  parseControlPlaneConfig,
  type ControlPlaneConfig,
  type ControlPlaneUser,
} from "./control-plane.js";
