import { InvalidArgumentError } from "@pipecd-ts/runtime";
import type { ObjectRef } from "./types.js";

/** The annotation PipeCD writes on every applied object and checks before deleting it (v0 §4.3). */
export const RESOURCE_KEY_ANNOTATION = "pipecd.dev/resource-key";

/** The namespace a namespaced object without one is put in (PipeCD `DefaultNamespace`). */
export const DEFAULT_NAMESPACE = "default";

/**
 * The resource key `apiVersion:kind:namespace:name` of an object or reference, as PipeCD's
 * `MakeResourceKey(...).String()`. An empty namespace becomes "default", which is what PipeCD
 * does for every kind (it has no discovery); pass `namespaced: false` for a cluster-scoped kind
 * to keep the namespace empty instead.
 */
export function resourceKey(
  obj:
    | ObjectRef
    | { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  opts: { namespaced?: boolean } = {},
): string {
  const { name, namespace } = "metadata" in obj ? obj.metadata : obj;
  const ns = (opts.namespaced ?? true) ? namespace || DEFAULT_NAMESPACE : "";
  return `${obj.apiVersion}:${obj.kind}:${ns}:${name}`;
}

/** Parses a key made by {@link resourceKey} (PipeCD `DecodeResourceKey`); throws InvalidArgument if malformed. */
export function parseResourceKey(key: string): Required<ObjectRef> {
  const parts = key.split(":");
  const [apiVersion, kind, namespace, name] = parts;
  if (parts.length !== 4 || !apiVersion || !kind || !name || namespace === undefined)
    throw new InvalidArgumentError(
      `malformed resource key ${JSON.stringify(key)}: want apiVersion:kind:namespace:name`,
    );
  return { apiVersion, kind, namespace, name };
}
