// CRD schema handling for kube-sim: what the apiserver does to a custom resource body between
// decoding and storage (pruning, defaulting, OpenAPI + CEL validation) and how it words the errors.
export { validateCustomResource } from "./custom-resource.js";
export { unsupportedRules } from "./cel-rules.js";
export { invalidMessage, strictDecodingMessage } from "./render.js";
export { parseCrdYamlDocuments } from "./yaml.js";
export type {
  FieldError,
  FieldErrorType,
  FieldValidation,
  JSONSchemaProps,
  ValidationRule,
} from "./types.js";
