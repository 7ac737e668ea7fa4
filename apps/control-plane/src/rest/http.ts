import { Ajv } from "ajv";
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifySchemaValidationError,
} from "fastify";
import { AppError, httpStatusOf, toAppError, type Logger } from "@pipecd-ts/runtime";

/** Sends the uniform error body `{"error":{"code","message"}}`. */
export function sendError(reply: FastifyReply, err: AppError): void {
  void reply.code(httpStatusOf(err.code)).send({ error: { code: err.code, message: err.message } });
}

/**
 * Validation: bodies are checked strictly (no type coercion, unknown fields rejected), query
 * strings and path params coerce ("true" → true, repeated keys → arrays) as HTTP requires.
 */
export function installValidation(app: FastifyInstance): void {
  const strict = new Ajv({
    allErrors: true,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: false,
    strict: false,
  });
  const lenient = new Ajv({
    allErrors: true,
    coerceTypes: "array",
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validate = (httpPart === "body" ? strict : lenient).compile<unknown>(schema as object);
    // After the schema: what JSON can carry but nothing downstream can store or echo back.
    const check = (data: unknown): boolean => {
      if (!validate(data)) {
        check.errors = validate.errors;
        return false;
      }
      const bad = unstorable(data, "");
      check.errors = bad
        ? [
            {
              instancePath: bad.path,
              keyword: "storable",
              message: bad.message,
              params: {},
              schemaPath: "",
            },
          ]
        : null;
      return !bad;
    };
    check.errors = null as typeof validate.errors;
    return check;
  });
  app.setSchemaErrorFormatter((errors: FastifySchemaValidationError[], dataVar: string) => {
    const msgs = errors.slice(0, 5).map((e) => {
      const where = `${dataVar}${e.instancePath.replace(/\//g, ".")}`;
      if (e.keyword === "additionalProperties")
        return `${where}: unknown field "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`;
      if (e.keyword === "required")
        return `${where}: missing required field "${String((e.params as { missingProperty?: string }).missingProperty)}"`;
      return `${where} ${e.message ?? "is invalid"}`;
    });
    return new Error(msgs.join("; "));
  });
}

/** A UTF-16 surrogate not part of a pair (with the u flag, pairs match as one code point). */
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATE_G = /\p{Surrogate}/gu;

/**
 * The first value in `data` that JSON and the schemas let through but that cannot be stored or
 * written back: a string with a lone UTF-16 surrogate (protobuf strings are UTF-8), or a number
 * beyond the safe integer range (it would lose precision). Returns its path and why.
 */
export function unstorable(
  data: unknown,
  path: string,
): { path: string; message: string } | undefined {
  if (typeof data === "string")
    return !LONE_SURROGATE.test(data)
      ? undefined
      : { path, message: "must be well-formed Unicode (it holds a lone UTF-16 surrogate)" };
  if (typeof data === "number")
    return Number.isFinite(data) && Math.abs(data) <= Number.MAX_SAFE_INTEGER
      ? undefined
      : { path, message: `must be within ±${Number.MAX_SAFE_INTEGER}` };
  if (Array.isArray(data)) {
    for (const [i, v] of data.entries()) {
      const bad = unstorable(v, `${path}/${i}`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (data !== null && typeof data === "object")
    for (const [k, v] of Object.entries(data)) {
      if (LONE_SURROGATE.test(k))
        return {
          path: `${path}/${k.replace(LONE_SURROGATE_G, "\ufffd")}`,
          message: "a field name holds a lone UTF-16 surrogate",
        };
      const bad = unstorable(v, `${path}/${k}`);
      if (bad) return bad;
    }
  return undefined;
}

/** Maps every error (ours, fastify's, unexpected) to a 4xx/5xx with the uniform body. */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, new AppError("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`)),
  );
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = err as { validation?: unknown; statusCode?: number; code?: string; message?: string };
    if (err instanceof AppError) {
      if (err.code === "INTERNAL") logger.error({ err, url: req.url }, "request failed");
      return sendError(reply, err);
    }
    if (e.validation)
      return sendError(reply, new AppError("INVALID_ARGUMENT", e.message ?? "invalid request"));
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return void reply
        .code(413)
        .send({ error: { code: "INVALID_ARGUMENT", message: "request body too large" } });
    if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
      return void reply.code(415).send({
        error: {
          code: "INVALID_ARGUMENT",
          message: "unsupported content type; send application/json",
        },
      });
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
      // Malformed JSON, empty JSON body and similar caller mistakes detected by fastify.
      return void reply.code(e.statusCode).send({
        error: {
          code: e.statusCode === 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT",
          message: e.message ?? "bad request",
        },
      });
    }
    const internal = toAppError(err);
    logger.error({ err, url: req.url }, "unexpected error");
    return sendError(reply, internal);
  });
}

/** Fastify schema object from a route's parts. */
export function fastifySchema(def: {
  params?: object;
  query?: object;
  body?: object;
}): FastifySchema {
  const s: FastifySchema = {};
  if (def.params) s.params = def.params;
  if (def.query) s.querystring = def.query;
  if (def.body) s.body = def.body;
  return s;
}
