import { parseAllDocuments } from "yaml";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { asObj } from "../json.js";
import {
  Annotation,
  isNamespaced,
  manifestKey,
  type K8sObject,
  type Manifest,
} from "./manifest.js";
import type { RenderedText } from "./render.js";

/**
 * PipeCD `ParseManifests` over rendered texts (features §10.2): every YAML document of every
 * text, in order; empty documents (comments only) skipped; a document that is not a Kubernetes
 * object fails the load, naming its source. Then `namespace` (when set) overrides the namespace
 * of every namespaced object, and the manifests are sorted by the `pipecd.dev/order` annotation
 * (stable: ties keep their order, unlike PipeCD's unstable sort).
 */
export function parseManifests(texts: readonly RenderedText[], namespace: string): Manifest[] {
  const out: Manifest[] = [];
  for (const { source, text } of texts) {
    for (const [i, doc] of parseAllDocuments(text).entries()) {
      if (doc.errors.length)
        throw new InvalidArgumentError(
          `${source}: invalid YAML in document ${i + 1}: ${doc.errors[0]?.message ?? ""}`,
        );
      const o: unknown = doc.toJS();
      if (o === null || o === undefined) continue;
      const obj = asObj(o);
      if (!obj)
        throw new InvalidArgumentError(`${source}: document ${i + 1} is not a Kubernetes object`);
      const meta = asObj(obj.metadata);
      if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string" || !meta?.name)
        throw new InvalidArgumentError(
          `${source}: document ${i + 1} needs apiVersion, kind and metadata.name`,
        );
      const m = obj as K8sObject;
      if (namespace && isNamespaced(m.kind)) m.metadata.namespace = namespace;
      out.push({ key: manifestKey(m), obj: m });
    }
  }
  const order = (m: Manifest): number => {
    const v = Number(m.obj.metadata.annotations?.[Annotation.ORDER] ?? "0");
    return Number.isFinite(v) ? v : 0;
  };
  return out
    .map((m, i) => ({ m, i }))
    .sort((a, b) => order(a.m) - order(b.m) || a.i - b.i)
    .map((x) => x.m);
}
