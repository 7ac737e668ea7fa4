// Multi-document YAML (CRD bundles, `kubectl apply -f` manifests) to plain JSON values.
import { parseAllDocuments } from "yaml";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Parses multi-doc YAML into JS objects, skipping empty documents; throws InvalidArgumentError on a syntax error. */
export function parseCrdYamlDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  // Merge keys (`<<`) as sigs.k8s.io/yaml accepts them; duplicate keys are an error there too.
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  for (const [i, doc] of list.entries()) {
    const err = doc.errors[0];
    if (err)
      throw new InvalidArgumentError(`YAML document ${i + 1}: ${err.message}`, { cause: err });
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}
