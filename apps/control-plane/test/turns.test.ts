import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Turns } from "../src/grpc/turns.js";

/** A call that runs until released, recording when it started. */
function gated(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    fn: async () => {
      log.push(`start ${name}`);
      await done;
      return name;
    },
    release,
  };
}

describe("Turns: calls per key", () => {
  it("runs at most inFlight calls of a key at once, the rest in arrival order; other keys are not held up", async () => {
    const turns = new Turns(2, 10, "piped");
    const log: string[] = [];
    const calls = ["a1", "a2", "a3", "a4"].map((n) => gated(log, n));
    const b = gated(log, "b1");
    const results = calls.map((c) => turns.run("a", c.fn));
    const other = turns.run("b", b.fn);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ["start a1", "start a2", "start b1"]);
    calls[1]!.release();
    await results[1];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log.slice(3), ["start a3"]);
    calls[0]!.release();
    await results[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log.slice(4), ["start a4"]);
    for (const c of calls) c.release();
    b.release();
    assert.deepEqual(await Promise.all([...results, other]), ["a1", "a2", "a3", "a4", "b1"]);
    assert.equal(turns.size, 0, "nothing is kept for idle keys");
  });

  it("past maxWaiting the next call of that key is refused with RESOURCE_EXHAUSTED; a failed call passes its turn on", async () => {
    const turns = new Turns(1, 1, "piped");
    const log: string[] = [];
    const first = gated(log, "1");
    const running = turns.run("p", first.fn);
    const waiting = turns.run("p", async () => {
      throw new Error("boom");
    });
    await assert.rejects(
      turns.run("p", async () => "3"),
      (e: { code?: string; message: string }) => {
        assert.equal(e.code, "RESOURCE_EXHAUSTED");
        assert.match(e.message, /piped p has 1 calls running and 1 waiting/);
        return true;
      },
    );
    first.release();
    await running;
    await assert.rejects(waiting, /boom/);
    assert.equal(await turns.run("p", async () => "after"), "after");
    assert.equal(turns.size, 0);
  });
});
