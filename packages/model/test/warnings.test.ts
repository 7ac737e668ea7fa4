import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_CONFIG_WARNINGS,
  MAX_CONFIG_WARNING_TEXT,
  capConfigWarnings,
  configWarningsProblem,
  formatConfigWarning,
  sameConfigWarnings,
} from "../src/index.js";

describe("config warnings", () => {
  const w = { path: "spec.pipeline.stages[2].with.threshold", line: 18, message: "unknown field" };

  it("format as file:line: path: message, leaving out an unknown line", () => {
    assert.equal(
      formatConfigWarning({ file: "a/app.pipecd.yaml", ...w }),
      "a/app.pipecd.yaml:18: spec.pipeline.stages[2].with.threshold: unknown field",
    );
    assert.equal(formatConfigWarning({ file: "f", message: "m" }), "f: (root): m");
  });

  it("are capped: beyond the limit the last kept one counts the rest; long texts are cut", () => {
    const many = Array.from({ length: MAX_CONFIG_WARNINGS + 5 }, (_, i) => ({ ...w, line: i }));
    const capped = capConfigWarnings("app.pipecd.yaml", many);
    assert.equal(capped.length, MAX_CONFIG_WARNINGS);
    assert.deepEqual(capped[MAX_CONFIG_WARNINGS - 2], { file: "app.pipecd.yaml", ...w, line: 48 });
    assert.equal(capped.at(-1)?.message, "and 6 more warnings");
    assert.equal(configWarningsProblem(capped), undefined, "what the piped sends is accepted");

    const long = capConfigWarnings("f", [{ ...w, message: "x".repeat(5000) }]);
    assert.equal(long[0]?.message.length, MAX_CONFIG_WARNING_TEXT);
    assert.ok(long[0]?.message.endsWith("…"));
    assert.equal(configWarningsProblem(long), undefined);
  });

  it("the control plane's check names what is over the limit", () => {
    assert.match(
      configWarningsProblem(Array(51).fill(w)) ?? "",
      /at most 50 config warnings, got 51/,
    );
    assert.match(
      configWarningsProblem([w, { ...w, path: "p".repeat(1001) }]) ?? "",
      /config warning 1: path is longer than 1000 characters/,
    );
  });

  it("compare by content and order", () => {
    assert.ok(sameConfigWarnings([w], [{ ...w }]));
    assert.ok(!sameConfigWarnings([w], [{ ...w, line: 19 }]));
    assert.ok(!sameConfigWarnings([w], []));
    assert.ok(sameConfigWarnings([], []));
  });
});
