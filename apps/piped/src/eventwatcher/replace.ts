import { parseAllDocuments, isScalar } from "yaml";
import type { EventReplacement } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** `$.spec.template.spec.containers[0].image` → ["spec", "template", "spec", "containers", 0, "image"]. */
export function yamlPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  let end = 1;
  while ((m = re.exec(field))) {
    if (m.index !== end) break;
    out.push(m[1] ?? Number(m[2]));
    end = re.lastIndex;
  }
  if (!field.startsWith("$") || end !== field.length || out.length === 0)
    throw new InvalidArgumentError(`"${field}" is not a YAML path such as $.spec.replicas`);
  return out;
}

/**
 * PipeCD's replacement of one file's value (features §6.3 step 4): a `yamlField` is set to
 * `value` in the first YAML document that has it, keeping comments and layout (unchanged when it
 * already reads `value`); a `regex` has its first capture group replaced in every match (no match
 * is an error). Returns the new text, or undefined when nothing changed.
 */
export function replaceValue(text: string, r: EventReplacement, value: string): string | undefined {
  if (r.regex) {
    const re = new RegExp(r.regex, "g");
    let matched = false;
    const out = text.replace(re, (whole: string, group: unknown) => {
      matched = true;
      if (typeof group !== "string") return whole;
      // The group's place in the match (the first occurrence of its text, as PipeCD's
      // regexp.ReplaceAllStringFunc over the submatch does).
      const at = whole.indexOf(group);
      return `${whole.slice(0, at)}${value}${whole.slice(at + group.length)}`;
    });
    if (!matched) throw new InvalidArgumentError(`${r.file}: no match for regex ${r.regex}`);
    return out === text ? undefined : out;
  }
  const path = yamlPath(r.yamlField);
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new InvalidArgumentError(`${r.file}: not YAML`);
  for (const doc of docs) {
    if (doc.errors.length) throw new InvalidArgumentError(`${r.file}: ${doc.errors[0]!.message}`);
    if (!doc.hasIn(path)) continue;
    const node = doc.getIn(path, true);
    const current = isScalar(node) ? node.value : node;
    if (current !== null && typeof current === "object")
      throw new InvalidArgumentError(`${r.file}: ${r.yamlField} is not a single value`);
    if (String(current) === value) return undefined;
    if (isScalar(node))
      node.value =
        typeof current === "number" && Number.isFinite(Number(value)) ? Number(value) : value;
    else doc.setIn(path, value);
    return docs.map((d) => d.toString()).join("");
  }
  throw new InvalidArgumentError(`${r.file}: ${r.yamlField} was not found`);
}

/** PipeCD's commit message: the template over {{ .Value }} and {{ .EventName }}, or its default. */
export function commitMessage(template: string, value: string, eventName: string): string {
  if (!template) return `Replace values with "${value}" set by Event "${eventName}"`;
  return template
    .replace(/\{\{\s*\.Value\s*\}\}/g, value)
    .replace(/\{\{\s*\.EventName\s*\}\}/g, eventName);
}
