import { isObj, meta, type Obj } from "./object.js";
import { selectorFromObject } from "./selectors.js";

/** A field error of a built-in object (apimachinery's field.Error). */
export interface Cause {
  reason: string;
  message: string;
  field: string;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// Go-style rendering of a bad value: %q for strings, %v for numbers/bools, JSON otherwise.
const q = (v: unknown): string => JSON.stringify(v) ?? "null";

/** Validates the name of a new object of `kind`. */
export function validateName(kind: string, name: string): Cause[] {
  const label = kind === "Service" || kind === "Namespace";
  const max = label ? 63 : 253;
  if (name.length > max || !(label ? DNS1123_LABEL : DNS1123_SUBDOMAIN).test(name)) {
    return [
      {
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message: `Invalid value: ${q(name)}: a lowercase RFC 1123 ${label ? "label" : "subdomain"} must consist of lower case alphanumeric characters, '-'${label ? "" : " or '.'"}, and must start and end with an alphanumeric character`,
      },
    ];
  }
  return [];
}

function validatePodSpec(spec: unknown, path: string, out: Cause[]): void {
  if (!isObj(spec)) {
    out.push({ reason: "FieldValueRequired", field: path, message: "Required value" });
    return;
  }
  const cs = spec.containers;
  if (!Array.isArray(cs) || cs.length === 0) {
    out.push({
      reason: "FieldValueRequired",
      field: `${path}.containers`,
      message: "Required value",
    });
    return;
  }
  const seen = new Set<string>();
  cs.forEach((c, i) => {
    const p = `${path}.containers[${i}]`;
    if (!isObj(c)) return;
    if (typeof c.name !== "string" || c.name === "")
      out.push({ reason: "FieldValueRequired", field: `${p}.name`, message: "Required value" });
    else if (seen.has(c.name))
      out.push({
        reason: "FieldValueDuplicate",
        field: `${p}.name`,
        message: `Duplicate value: ${q(c.name)}`,
      });
    else seen.add(c.name);
    if (typeof c.image !== "string" || c.image === "")
      out.push({ reason: "FieldValueRequired", field: `${p}.image`, message: "Required value" });
  });
}

/** Validates a built-in object; returns its field errors (empty when valid). */
export function validateBuiltin(kind: string, o: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  const spec = o.spec;
  switch (kind) {
    case "Deployment":
    case "ReplicaSet": {
      if (!isObj(spec))
        return [{ reason: "FieldValueRequired", field: "spec", message: "Required value" }];
      if (
        typeof spec.replicas === "number" &&
        (spec.replicas < 0 || !Number.isInteger(spec.replicas))
      )
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.replicas",
          message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
        });
      if (!isObj(spec.selector)) {
        out.push({
          reason: "FieldValueRequired",
          field: "spec.selector",
          message: "Required value",
        });
        return out;
      }
      const labels =
        isObj(spec.template) && isObj(spec.template.metadata)
          ? (spec.template.metadata.labels as Record<string, string> | undefined)
          : undefined;
      if (!selectorFromObject(spec.selector)(labels))
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.template.metadata.labels",
          message: `Invalid value: ${JSON.stringify(labels ?? {})}: \`selector\` does not match template \`labels\``,
        });
      if (
        old &&
        isObj(old.spec) &&
        JSON.stringify(old.spec.selector) !== JSON.stringify(spec.selector)
      )
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.selector",
          message: `Invalid value: ${JSON.stringify(spec.selector)}: field is immutable`,
        });
      validatePodSpec(
        isObj(spec.template) ? spec.template.spec : undefined,
        "spec.template.spec",
        out,
      );
      return out;
    }
    case "Pod":
      validatePodSpec(spec, "spec", out);
      return out;
    case "Service": {
      if (!isObj(spec)) return out;
      const ports = spec.ports;
      if (Array.isArray(ports))
        ports.forEach((p, i) => {
          if (isObj(p) && (typeof p.port !== "number" || p.port < 1 || p.port > 65535))
            out.push({
              reason: "FieldValueInvalid",
              field: `spec.ports[${i}].port`,
              message: `Invalid value: ${q(p.port)}: must be between 1 and 65535, inclusive`,
            });
        });
      if (
        old &&
        isObj(old.spec) &&
        old.spec.clusterIP &&
        spec.clusterIP &&
        old.spec.clusterIP !== spec.clusterIP
      )
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.clusterIPs[0]",
          message: `Invalid value: ${q(spec.clusterIP)}: may not change once set`,
        });
      return out;
    }
    case "ConfigMap":
    case "Secret": {
      if (old && old.immutable === true && JSON.stringify(old.data) !== JSON.stringify(o.data))
        out.push({
          reason: "FieldValueForbidden",
          field: "data",
          message: "Forbidden: field is immutable when `immutable` is set",
        });
      return out;
    }
    default:
      return out;
  }
}

/** Whether an object is being deleted. */
export function isTerminating(o: Obj): boolean {
  return typeof meta(o).deletionTimestamp === "string";
}
