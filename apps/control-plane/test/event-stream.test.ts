import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventStreamSender } from "../src/rest/event-stream.js";

/** A response whose socket takes `accepts` bytes, then nothing (a client that stopped reading). */
function stalled(accepts: number) {
  let taken = 0;
  const r = {
    writableLength: 0,
    written: [] as string[],
    destroyed: 0,
    write(text: string) {
      r.written.push(text);
      const n = Buffer.byteLength(text);
      const room = Math.max(0, accepts - taken);
      taken += Math.min(room, n);
      r.writableLength += n - Math.min(room, n);
      return r.writableLength === 0;
    },
    destroy() {
      r.destroyed++;
    },
  };
  return r;
}

describe("event stream backpressure", () => {
  it("a client that reads gets every event", () => {
    const res = stalled(Infinity);
    const send = eventStreamSender(res, 100);
    for (let i = 0; i < 1_000; i++) send(`data: ${i}\n\n`);
    assert.equal(res.written.length, 1_000);
    assert.equal(res.destroyed, 0);
  });

  it("a client that stops reading is dropped once its queue would pass the limit, and only once", () => {
    const res = stalled(50);
    const send = eventStreamSender(res, 100);
    const event = "x".repeat(30); // 50 bytes to the socket, then 100 queued: 5 events fit
    for (let i = 0; i < 20; i++) send(event);
    assert.equal(res.written.length, 5);
    assert.equal(res.destroyed, 1);
    assert.ok(res.writableLength <= 100, `queued ${res.writableLength} bytes`);
  });
});
