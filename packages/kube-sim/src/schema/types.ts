// Shapes shared by the CRD schema code: the part of apiextensions v1 JSONSchemaProps we honour and
// the field error a 422 Status carries in `details.causes`.

/** One `x-kubernetes-validations` entry (a CEL rule) of a schema node. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

/** The subset of apiextensions v1 JSONSchemaProps we honour. */
export interface JSONSchemaProps {
  type?: string;
  format?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: boolean | JSONSchemaProps;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  oneOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  allOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-validations"?: ValidationRule[];
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  default?: unknown;
  description?: string;
}

/** Cause types of a 422 Status, as apimachinery's `field.ErrorType` values. */
export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueTypeInvalid"
  | "FieldValueNotSupported"
  | "FieldValueForbidden"
  | "FieldValueTooLong"
  | "FieldValueTooMany"
  | "FieldValueDuplicate";

/** One field error, rendered like apimachinery's field.Error. */
export interface FieldError {
  /** The StatusCause `reason`. Type mismatches are `FieldValueTypeInvalid`, as on a real apiserver. */
  type: FieldErrorType;
  /** The StatusCause `field`, e.g. `spec.http[0].route[0].weight`; `<nil>` for errors without a path. */
  field: string;
  /** full message as in a StatusCause, e.g. `Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"` */
  message: string;
}

/** The `fieldValidation` query parameter: what to do with unknown (pruned) fields. */
export type FieldValidation = "Strict" | "Warn" | "Ignore";
