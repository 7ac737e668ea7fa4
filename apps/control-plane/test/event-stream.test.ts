import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { StreamEvent } from "@pipecd-ts/rest-api";
import { eventually } from "@pipecd-ts/testkit";
import { eventBatch } from "../src/hub.js";
import { ResumableEventStream, eventStreamSender } from "../src/rest/event-stream.js";

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

describe("resumable event stream", () => {
  const ev = (id: number) => [id, { type: "deployment", id: `d${id}` }] as [number, StreamEvent];
  const ids = (texts: string[]) =>
    texts
      .join("")
      .match(/^id: \d+/gm)
      ?.map((l) => Number(l.slice(4))) ?? [];

  it("sends every event once in id order: held until the backlog is out, overlap dropped, a missed run read from the store first", async () => {
    const out: string[] = [];
    const reads: [number, number][] = [];
    const stream = new ResumableEventStream(
      (t) => out.push(t),
      async (after, before) => {
        reads.push([after, before]);
        await new Promise((r) => setTimeout(r, 5));
        return eventBatch([ev(6), ev(7)].filter(([id]) => id > after && id < before));
      },
    );
    stream.live(eventBatch([ev(3), ev(4)])); // arrives while the backlog (up to 4) is read
    stream.start({ text: eventBatch([ev(2), ev(3), ev(4)]).text, upTo: 4 });
    stream.live(eventBatch([ev(5)]));
    stream.live(eventBatch([ev(8)])); // 6 and 7 were never announced here
    stream.live(eventBatch([ev(9)])); // waits behind the read
    await eventually(async () => ids(out).length === 8, 2_000, "every event sent");
    assert.deepEqual(reads, [[5, 8]]);
    assert.deepEqual(ids(out), [2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("a gap too large to read tells the client to re-read state", async () => {
    const out: string[] = [];
    const stream = new ResumableEventStream(
      (t) => out.push(t),
      async () => "too-large" as const,
    );
    stream.start({ text: "", upTo: 1 });
    stream.live(eventBatch([ev(50_000)]));
    await eventually(async () => out.join("").includes("id: 50000"), 2_000, "the batch sent");
    assert.match(out.join(""), /id: 49999\nevent: ready\ndata: \{"resumed":false\}\n\nid: 50000\n/);
  });
});
