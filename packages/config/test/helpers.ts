import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@pipecd-ts/config";

// Shared by the config tests.

export const TESTDATA = join(import.meta.dirname, "testdata");

/** A file of `test/testdata`. */
export const fixture = (name: string): string => readFileSync(join(TESTDATA, name), "utf8");

/** The ConfigError `fn` throws; fails the test if it throws something else or nothing. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a ConfigError, nothing was thrown");
}

/** The smallest valid piped config, with `extra` appended to its spec. */
export const minimalPiped = (extra = ""): string => `apiVersion: pipecd.dev/v1beta1
kind: Piped
spec:
  projectID: p
  pipedID: d
  pipedKeyData: a2V5
  apiAddress: localhost:9443
${extra}`;
