export { GROUPS, PIPECTL_VERSION, runCli } from "./cli.js";
export type { CommandSpec, Context, GroupSpec, Io, OutputFormat } from "./command.js";
export { ExitCode, type ExitCodeValue } from "./errors.js";
