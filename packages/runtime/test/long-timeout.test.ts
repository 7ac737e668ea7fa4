import { describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { MAX_TIMER_MS, setLongTimeout } from "../src/deadline.js";

// Node fires a setTimeout longer than 2^31-1 ms after 1 ms; a WAIT_APPROVAL `timeout: 720h` must
// not time out at once.

const DAY = 24 * 3_600_000;

describe("setLongTimeout", () => {
  it("fires after delays longer than setTimeout can hold, not before", () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      let fired = 0;
      setLongTimeout(() => fired++, 30 * DAY);
      mock.timers.tick(MAX_TIMER_MS);
      assert.equal(fired, 0, "not after 24.8 days (a plain setTimeout fires after 1 ms)");
      mock.timers.tick(30 * DAY - MAX_TIMER_MS - 1);
      assert.equal(fired, 0, "not 1 ms early");
      mock.timers.tick(1);
      assert.equal(fired, 1, "exactly at 30 days");
    } finally {
      mock.timers.reset();
    }
  });

  it("can be cancelled in any step", () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      let fired = 0;
      const cancel = setLongTimeout(() => fired++, MAX_TIMER_MS + 10);
      mock.timers.tick(MAX_TIMER_MS + 1);
      cancel();
      mock.timers.tick(100);
      assert.equal(fired, 0);
    } finally {
      mock.timers.reset();
    }
  });
});
