import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LruMap } from "../src/index.js";

describe("LruMap", () => {
  it("keeps at most max entries and drops the least recently used (get counts as a use)", () => {
    const m = new LruMap<string, number>(2);
    m.set("a", 1);
    m.set("b", 2);
    assert.equal(m.get("a"), 1); // a is now the most recent
    m.set("c", 3); // drops b
    assert.equal(m.get("b"), undefined);
    assert.equal(m.get("a"), 1);
    assert.equal(m.get("c"), 3);
    assert.equal(m.size, 2);
    assert.equal(m.delete("a"), true);
    assert.equal(m.size, 1);
  });
});
