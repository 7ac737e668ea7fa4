import { Routes, type RouteDef } from "./routes.js";

/** Builds the OpenAPI 3.1 document of the REST API from the route table. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, raw] of Object.entries(Routes)) {
    const def = raw as RouteDef;
    const path = def.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const parameters: unknown[] = [];
    type ObjSchema = { properties?: Record<string, unknown>; required?: string[] };
    const parts: [string, ObjSchema | undefined][] = [
      ["path", def.params],
      ["query", def.query],
    ];
    for (const [where, schema] of parts) {
      const props = schema?.properties;
      for (const [name, s] of Object.entries(props ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === "path" || (schema?.required ?? []).includes(name),
          schema: s,
        });
      }
    }
    (paths[path] ??= {})[def.method.toLowerCase()] = {
      operationId,
      summary: def.summary,
      security: def.access === "public" ? [] : [{ bearer: [] }, { session: [] }],
      "x-required-role": def.access,
      parameters,
      ...(def.body
        ? { requestBody: { required: true, content: { "application/json": { schema: def.body } } } }
        : {}),
      responses: {
        [String(def.status)]: { description: "OK (protobuf JSON mapping of the model messages)" },
        default: {
          description: "Error",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    };
  }
  paths["/api/v1/stream"] = {
    get: {
      operationId: "stream",
      summary: "Server-sent events of deployment, stage, application, command and piped changes.",
      security: [{ bearer: [] }, { session: [] }],
      responses: { "200": { description: "text/event-stream" } },
    },
  };
  return {
    openapi: "3.1.0",
    info: { title: "pipecd-ts control plane", version },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "API key <keyId>.<secret>" },
        session: { type: "apiKey", in: "cookie", name: "pipecd_session" },
      },
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: { code: { type: "string" }, message: { type: "string" } },
              required: ["code", "message"],
            },
          },
          required: ["error"],
        },
      },
    },
  };
}
