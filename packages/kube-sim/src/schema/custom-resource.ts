// The apiserver's write path for a custom resource body, minus storage: coerce (prune, metadata,
// nulls, defaults), validate against the structural schema, check list types, then the CEL rules
// (skipped with a notice when a blocking error exists, as customResourceStrategy.Validate does).
import { hasRules, validateRules } from "./cel-rules.js";
import { validateListTypes } from "./list-type.js";
import { pruneCustomResource } from "./prune.js";
import { NIL_PATH, invalid } from "./render.js";
import type { FieldError, JSONSchemaProps } from "./types.js";
import { validateValue } from "./validate.js";

const BLOCKING = new Set<FieldError["type"]>([
  "FieldValueNotSupported",
  "FieldValueRequired",
  "FieldValueTooLong",
  "FieldValueTooMany",
  "FieldValueTypeInvalid",
]);

/** Validates `obj` (a whole custom resource: apiVersion, kind, metadata, spec, status...) against the version's `openAPIV3Schema`, prunes unknown fields (structural pruning; metadata/apiVersion/kind are handled as in a real apiserver: only name/namespace/labels/annotations/etc. of ObjectMeta are kept untouched), applies `default`s, and returns the pruned object, the field errors, and the unknown field paths (e.g. `spec.foo`) that were pruned. */
export function validateCustomResource(
  schema: JSONSchemaProps,
  obj: unknown,
): { object: unknown; errors: FieldError[]; unknownFields: string[] } {
  const unknownFields: string[] = [];
  const object = pruneCustomResource(obj, schema, unknownFields);
  const errors: FieldError[] = [];
  validateValue(schema, object, "", errors);
  validateListTypes(schema, object, "", errors);
  if (hasRules(schema)) {
    if (errors.some((e) => BLOCKING.has(e.type))) {
      errors.push(
        invalid(
          NIL_PATH,
          null,
          "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ),
      );
    } else {
      validateRules(schema, object, "", errors);
    }
  }
  return { object, errors, unknownFields };
}
