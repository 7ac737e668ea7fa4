import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normalizeRemote } from "../src/rest/git-webhook.js";

describe("Git remotes compare in one form", () => {
  const same = [
    "https://github.com/org/repo.git",
    "https://token@github.com/org/repo",
    "https://GitHub.com/org/repo/",
    "git@github.com:org/repo.git",
    "ssh://git@github.com:22/org/repo.git",
    "git://github.com/org/repo",
  ];
  it("HTTPS, SSH (scp and URL forms) and git:// URLs of one repository are equal", () => {
    for (const u of same) assert.equal(normalizeRemote(u), "github.com/org/repo", u);
  });
  it("other repositories stay apart; hosted paths ignore case; a local path stays a path", () => {
    assert.notEqual(normalizeRemote("git@github.com:org/repo2.git"), "github.com/org/repo");
    assert.equal(normalizeRemote("https://github.com/Org/Repo"), "github.com/org/repo");
    assert.equal(normalizeRemote("/srv/git/repo.git"), "/srv/git/repo");
    assert.equal(normalizeRemote("file:///srv/git/repo.git"), "/srv/git/repo");
  });
});
