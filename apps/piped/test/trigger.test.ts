import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { globToRegExp, isTouched, skipReason } from "../src/index.js";

describe("trigger: is an app touched by a commit (PipeCD isTouchedByChangedFiles)", () => {
  const none = { disabled: false, paths: [], ignores: [] };
  it("touches on changes under the app directory only", () => {
    assert.equal(isTouched("apps/web", ["apps/web/deployment.yaml"], none), true);
    assert.equal(isTouched("apps/web", ["apps/webby/deployment.yaml", "docs/x.md"], none), false);
  });
  it("onCommit.paths adds paths outside the app directory", () => {
    assert.equal(
      isTouched("apps/web", ["shared/base.yaml"], { ...none, paths: ["shared/**"] }),
      true,
    );
    assert.equal(
      isTouched("apps/web", ["other/base.yaml"], { ...none, paths: ["shared/*.yaml"] }),
      false,
    );
  });
  it("ignores exclude globally: any ignored file means not touched (as PipeCD)", () => {
    assert.equal(
      isTouched("apps/web", ["apps/web/deployment.yaml", "apps/web/README.md"], {
        ...none,
        ignores: ["apps/web/*.md"],
      }),
      false,
    );
    assert.equal(
      isTouched("apps/web", ["apps/web/deployment.yaml"], { ...none, ignores: ["apps/web/*.md"] }),
      true,
    );
  });
  it("globs: * stays within a directory, ** crosses", () => {
    assert.equal(globToRegExp("a/*.yaml").test("a/b.yaml"), true);
    assert.equal(globToRegExp("a/*.yaml").test("a/b/c.yaml"), false);
    assert.equal(globToRegExp("a/**").test("a/b/c.yaml"), true);
    assert.equal(globToRegExp("a/**/c.yaml").test("a/b/c.yaml"), true);
  });
});

describe("skipOn (PipeCD skipstage.go)", () => {
  const cfg = { skipOn: { commitMessagePrefixes: ["[skip-wait]"], paths: ["docs/**", "*.md"] } };
  it("skips on a commit message prefix", () => {
    assert.match(
      skipReason("WAIT", cfg, {
        commitMessage: "[skip-wait] fix typo",
        changedFiles: ["apps/web/x.yaml"],
      }) ?? "",
      /commit message starts with/,
    );
  });
  it("skips only when every changed file matches the paths", () => {
    assert.ok(
      skipReason("WAIT_APPROVAL", cfg, {
        commitMessage: "docs",
        changedFiles: ["docs/a.md", "README.md"],
      }),
    );
    assert.equal(
      skipReason("WAIT_APPROVAL", cfg, {
        commitMessage: "docs",
        changedFiles: ["docs/a.md", "apps/web/x.yaml"],
      }),
      undefined,
    );
    assert.equal(
      skipReason("WAIT", cfg, { commitMessage: "x", changedFiles: undefined }),
      undefined,
      "unknown changes never skip",
    );
  });
  it("applies only to WAIT, WAIT_APPROVAL and ANALYSIS", () => {
    assert.equal(
      skipReason("K8S_CANARY_ROLLOUT", cfg, { commitMessage: "[skip-wait] x", changedFiles: [] }),
      undefined,
    );
  });
});
