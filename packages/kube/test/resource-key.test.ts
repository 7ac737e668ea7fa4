import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { parseResourceKey, resourceKey } from "../src/index.js";

describe("resource keys (PipeCD apiVersion:kind:namespace:name)", () => {
  it("an object's key uses its namespace, or default when it has none", () => {
    const vs = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "web", namespace: "prod" },
    };
    assert.equal(resourceKey(vs), "networking.istio.io/v1:VirtualService:prod:web");
    assert.equal(
      resourceKey({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } }),
      "apps/v1:Deployment:default:web",
    );
    assert.equal(
      resourceKey({ apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "" }),
      "apps/v1:Deployment:default:web",
    );
  });

  it("a cluster-scoped kind keeps an empty namespace when asked", () => {
    assert.equal(
      resourceKey({ apiVersion: "v1", kind: "Namespace", name: "canary" }, { namespaced: false }),
      "v1:Namespace::canary",
    );
  });

  it("parseResourceKey inverts resourceKey and rejects malformed keys", () => {
    assert.deepEqual(parseResourceKey("apps/v1:Deployment:default:web"), {
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "default",
      name: "web",
    });
    assert.deepEqual(parseResourceKey("v1:Namespace::canary").namespace, "");
    for (const bad of ["", "apps/v1:Deployment:web", "a:b:c:d:e", "apps/v1::default:web"])
      assert.throws(() => parseResourceKey(bad), InvalidArgumentError, bad);
  });
});
