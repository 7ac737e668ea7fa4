import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_SAFETY,
  parseApplicationConfig,
  parsePipedConfig,
  resolveSafety,
} from "@pipecd-ts/config";
import { configError, minimalPiped } from "./helpers.js";

// `spec.safety` (pipecd-ts only): the switches of our improvements, in the piped config (the
// default of every app) and the app config (overrides field by field).

const app = (safety = ""): string => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
${safety}`;

const issuesOf = (fn: () => unknown): string[] =>
  configError(fn).issues.map((i) => `${i.path}: ${i.message}`);

describe("spec.safety", () => {
  it("is all on by default: PipeCD configs get every improvement", () => {
    assert.deepEqual(parsePipedConfig("p.yaml", minimalPiped()).safety, DEFAULT_SAFETY);
    assert.deepEqual(parseApplicationConfig("a.yaml", app()).safety, {});
    assert.deepEqual(DEFAULT_SAFETY, {
      waitForReady: true,
      rolloutTimeoutMs: 600_000,
      verifyTraffic: true,
      keepDestinationFields: true,
      rollbackPrune: true,
      rollbackTimeoutMs: 900_000,
    });
  });

  it("reads every switch in the piped config, defaults filled", () => {
    const cfg = parsePipedConfig(
      "p.yaml",
      minimalPiped(`  safety:
    waitForReady: false
    rolloutTimeout: 90s
    verifyTraffic: false
    keepDestinationFields: false
    rollbackPrune: false
    rollbackTimeout: 2m
`),
    );
    assert.deepEqual(cfg.safety, {
      waitForReady: false,
      rolloutTimeoutMs: 90_000,
      verifyTraffic: false,
      keepDestinationFields: false,
      rollbackPrune: false,
      rollbackTimeoutMs: 120_000,
    });
  });

  it("keeps only the fields an app sets; they override the piped's", () => {
    const a = parseApplicationConfig(
      "a.yaml",
      app("  safety: { rollbackPrune: false, rolloutTimeout: 5m }\n"),
    ).safety;
    assert.deepEqual(a, { rollbackPrune: false, rolloutTimeoutMs: 300_000 });
    const p = parsePipedConfig(
      "p.yaml",
      minimalPiped("  safety: { rollbackPrune: true, verifyTraffic: false }\n"),
    ).safety;
    assert.deepEqual(resolveSafety(p, a), {
      ...DEFAULT_SAFETY,
      verifyTraffic: false,
      rollbackPrune: false,
      rolloutTimeoutMs: 300_000,
    });
  });

  it("names each bad field, in file order", () => {
    assert.deepEqual(
      issuesOf(() =>
        parseApplicationConfig(
          "a.yaml",
          app(
            "  safety:\n    waitForReady: no-thanks\n    rollbackTimeout: 10\n    verify: true\n",
          ),
        ),
      ),
      [
        "spec.safety.waitForReady: must be true or false",
        'spec.safety.rollbackTimeout: must be a duration with a unit, e.g. "30s", "5m" or "1h"',
        "spec.safety.verify: unknown field (known: waitForReady, verifyTraffic, keepDestinationFields, rollbackPrune, rolloutTimeout, rollbackTimeout)",
      ],
    );
    assert.match(
      issuesOf(() => parsePipedConfig("p.yaml", minimalPiped("  safety: [waitForReady]\n"))).join(
        "\n",
      ),
      /spec\.safety: must be a mapping/,
    );
  });
});
