import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LogBlock } from "@pipecd-ts/proto";
import { silentLogger, systemClock } from "@pipecd-ts/runtime";
import type { ApiClient } from "../src/apiclient/client.js";
import { StageLogPersister } from "../src/stagelog/stage-log.js";

describe("stage log persister", () => {
  it("a burst of lines goes out in batches under the control plane's per-call limit, in order; only the last completes the log", async () => {
    const calls: { blocks: LogBlock[]; completed: boolean }[] = [];
    const api = {
      call: async (_method: string, req: { blocks: LogBlock[]; completed: boolean }) => {
        calls.push(req);
        return {};
      },
    } as unknown as Pick<ApiClient, "call">;
    const reporter = {
      report: async (_k: string, _what: string, fn: (s: AbortSignal) => Promise<unknown>) => {
        await fn(new AbortController().signal);
      },
    };
    const logs = new StageLogPersister({
      api,
      reporter,
      clock: systemClock,
      logger: silentLogger(),
    });
    const log = logs.forStage("d1", "s1");
    for (let i = 0; i < 2_500; i++) log.info(`line ${i}`);
    await log.complete();
    assert.deepEqual(
      calls.map((c) => [c.blocks.length, c.completed]),
      [
        [1_000, false],
        [1_000, false],
        [500, true],
      ],
    );
    const lines = calls.flatMap((c) => c.blocks.map((b) => b.log));
    assert.deepEqual(
      lines,
      Array.from({ length: 2_500 }, (_, i) => `line ${i}`),
    );
    // An empty log still gets its completion.
    calls.length = 0;
    await logs.forStage("d1", "s2").complete();
    assert.deepEqual(
      calls.map((c) => [c.blocks.length, c.completed]),
      [[0, true]],
    );
  });
});
