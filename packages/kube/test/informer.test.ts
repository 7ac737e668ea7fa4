import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "@pipecd-ts/runtime";
import { runInformer, type InformerDeps } from "../src/informer.js";
import type { KubeObject } from "../src/types.js";

// The reflector's resume rules, with a scripted API server: each watch call plays one script.

type Script = (
  query: Record<string, unknown>,
  emit: (type: string, o: unknown) => void,
  done: (err: unknown) => void,
) => void;

const obj = (name: string, rv: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, uid: `uid-${name}`, resourceVersion: rv },
});

function harness(lists: string[], scripts: Script[], stop: AbortController) {
  const events: string[] = [];
  const watchQueries: Record<string, unknown>[] = [];
  let listCalls = 0;
  const deps: InformerDeps = {
    list: () => {
      const rv = lists[listCalls++] ?? "999";
      return Promise.resolve({ items: [obj(`listed-${rv}`, rv)], resourceVersion: rv });
    },
    collectionPath: () => Promise.resolve("/api/v1/configmaps"),
    watch: (_path, query, onEvent, done) => {
      watchQueries.push(query);
      const script = scripts.shift();
      const ac = new AbortController();
      // Asynchronously, as a real stream delivers.
      setImmediate(() => {
        if (!script) {
          stop.abort();
          return;
        }
        script(query, onEvent, done);
      });
      return Promise.resolve(ac);
    },
    logger: silentLogger(),
  };
  const handler = {
    replace: (os: KubeObject[]) =>
      events.push(`replace ${os.map((o) => o.metadata.name).join(",")}`),
    upsert: (o: KubeObject) => events.push(`upsert ${o.metadata.name} ${o.kind}`),
    remove: (o: KubeObject) => events.push(`remove ${o.metadata.name}`),
  };
  return {
    events,
    watchQueries,
    lists: () => listCalls,
    run: () => runInformer(deps, "v1", "ConfigMap", handler, stop.signal),
  };
}

describe("informer: list once, then watch with resume", () => {
  it("a watch the server closes resumes from the last event's resourceVersion, without listing again", async () => {
    const stop = new AbortController();
    const h = harness(
      ["10"],
      [
        (_q, emit, done) => {
          emit("ADDED", { metadata: { name: "a", uid: "ua", resourceVersion: "11" } });
          emit("BOOKMARK", { metadata: { resourceVersion: "15" } });
          done(null);
        },
        (_q, emit, done) => {
          emit("DELETED", { metadata: { name: "a", uid: "ua", resourceVersion: "16" } });
          done(null);
        },
      ],
      stop,
    );
    await h.run();
    assert.equal(h.lists(), 1, "listed once");
    assert.deepEqual(
      h.watchQueries.map((q) => q.resourceVersion),
      ["10", "15", "16"],
      "each watch starts where the last one stood (bookmarks count)",
    );
    assert.ok(h.watchQueries.every((q) => q.allowWatchBookmarks === true));
    assert.deepEqual(h.events, ["replace listed-10", "upsert a ConfigMap", "remove a"]);
  });

  it("410 Expired lists again and replaces what is known", async () => {
    const stop = new AbortController();
    const h = harness(
      ["10", "20"],
      [
        (_q, emit) => emit("ERROR", { kind: "Status", code: 410, reason: "Expired" }),
        (_q, _emit, done) => done(null),
      ],
      stop,
    );
    await h.run();
    assert.equal(h.lists(), 2);
    assert.deepEqual(
      h.watchQueries.map((q) => q.resourceVersion),
      ["10", "20", "20"],
    );
    assert.deepEqual(h.events, ["replace listed-10", "replace listed-20"]);
  });
});
