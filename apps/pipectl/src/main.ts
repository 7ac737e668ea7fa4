import { runCli } from "./cli.js";

/** The most `piped encrypt` reads from stdin (the control plane takes 64 KiB). */
const MAX_STDIN_BYTES = 1 << 20;

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
  readStdin: async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_STDIN_BYTES) throw new Error(`more than ${MAX_STDIN_BYTES} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  },
});
process.exit(code);
