import { runCli } from "./cli.js";

// Entry point of bin/pipectl. Writes to fds synchronously (files and pipes are synchronous on
// Linux), so exiting right after cannot cut output short.
process.once("SIGINT", () => {
  // Ctrl-C during `deployment wait` on a terminal: end the redrawn progress line first.
  if (process.stderr.isTTY) process.stderr.write("\n");
  process.exit(130);
});
const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
});
process.exit(code);
