import { Type, type Static, type TSchema } from "typebox";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Desc = Type.String({ maxLength: 2000 });
const Labels = Type.Record(
  Type.String({ minLength: 1, maxLength: 63 }),
  Type.String({ maxLength: 253 }),
  { maxProperties: 64 },
);

/** Role names accepted in bodies. */
export const RoleSchema = Type.Union([
  Type.Literal("viewer"),
  Type.Literal("editor"),
  Type.Literal("admin"),
]);

/** `{id}` path parameter. */
export const IdParams = Type.Object({ id: Id }, strict);
/** `{id}/stages/{stageId}` path parameters. */
export const StageParams = Type.Object({ id: Id, stageId: Id }, strict);
/** Paging query parameters. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  strict,
);

/** POST /login */
export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  strict,
);
/** POST /pipeds */
export const RegisterPipedBody = Type.Object(
  { name: Name, description: Type.Optional(Desc) },
  strict,
);
/** PATCH /pipeds/{id} */
export const UpdatePipedBody = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Desc) },
  strict,
);
/** Longest plaintext POST /pipeds/{id}/encrypt takes (characters). */
export const MAX_ENCRYPT_PLAINTEXT = 64 * 1024;

/** POST /pipeds/{id}/encrypt */
export const EncryptSecretBody = Type.Object(
  {
    plaintext: Type.String({ minLength: 1, maxLength: MAX_ENCRYPT_PLAINTEXT }),
    base64Encoding: Type.Optional(Type.Boolean()),
  },
  strict,
);
/** POST /api-keys */
export const CreateAPIKeyBody = Type.Object({ name: Name, role: RoleSchema }, strict);

/** Git location of an application. */
export const GitPathSchema = Type.Object(
  {
    repoId: Type.String({ minLength: 1, maxLength: 128 }),
    path: Type.String({ minLength: 1, maxLength: 1024, pattern: "^[^/]" }),
    configFilename: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, pattern: "^[^/]+$" }),
    ),
  },
  strict,
);
/** POST /applications */
export const AddApplicationBody = Type.Object(
  {
    name: Name,
    pipedId: Id,
    gitPath: GitPathSchema,
    platformProvider: Type.Optional(Type.String({ maxLength: 128 })),
    labels: Type.Optional(Labels),
    description: Type.Optional(Desc),
  },
  strict,
);
/** PATCH /applications/{id} */
export const UpdateApplicationBody = Type.Object(
  {
    name: Type.Optional(Name),
    pipedId: Type.Optional(Id),
    gitPath: Type.Optional(GitPathSchema),
    platformProvider: Type.Optional(Type.String({ maxLength: 128 })),
    labels: Type.Optional(Labels),
    description: Type.Optional(Desc),
  },
  strict,
);
/** GET /applications */
export const ListApplicationsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    pipedId: Type.Optional(Id),
    name: Type.Optional(Name),
    disabled: Type.Optional(Type.Boolean()),
    label: Type.Optional(
      Type.Array(Type.String({ pattern: "^[^:]+:.*$", maxLength: 320 }), { maxItems: 32 }),
    ),
  },
  strict,
);
/** Sync strategies accepted by POST /applications/{id}/sync. */
export const SyncStrategyName = Type.Union([
  Type.Literal("AUTO"),
  Type.Literal("QUICK_SYNC"),
  Type.Literal("PIPELINE"),
]);
/** POST /applications/{id}/sync */
export const SyncApplicationBody = Type.Object(
  { strategy: Type.Optional(SyncStrategyName) },
  strict,
);

/** Deployment status names accepted as filters. */
export const DeploymentStatusName = Type.Union([
  // Written out (not mapped from a list) so that the static type is the union of the names.
  Type.Literal("DEPLOYMENT_PENDING"),
  Type.Literal("DEPLOYMENT_PLANNED"),
  Type.Literal("DEPLOYMENT_RUNNING"),
  Type.Literal("DEPLOYMENT_ROLLING_BACK"),
  Type.Literal("DEPLOYMENT_SUCCESS"),
  Type.Literal("DEPLOYMENT_FAILURE"),
  Type.Literal("DEPLOYMENT_CANCELLED"),
]);

/** Every deployment status name, in lifecycle order (filters, pipectl, the web UI). */
export const DEPLOYMENT_STATUS_NAMES: readonly Static<typeof DeploymentStatusName>[] =
  DeploymentStatusName.anyOf.map((l) => l.const);
/** GET /deployments */
export const ListDeploymentsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    applicationId: Type.Optional(Id),
    pipedId: Type.Optional(Id),
    status: Type.Optional(Type.Array(DeploymentStatusName, { maxItems: 7 })),
  },
  strict,
);
/** POST /deployments/{id}/cancel */
export const CancelDeploymentBody = Type.Object(
  { rollback: Type.Optional(Type.Boolean()) },
  strict,
);
/** POST /deployments/{id}/stages/{stageId}/reject */
export const RejectStageBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 2000 })) },
  strict,
);
/** GET /deployments/{id}/stages/{stageId}/logs */
export const StageLogsQuery = Type.Object(
  {
    retriedCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    afterIndex: Type.Optional(Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER })),
    /** Blocks per answer (default 1000); `more` says whether to ask again after the last. */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
  },
  strict,
);
/** GET /audit-log */
export const ListAuditLogQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    actor: Type.Optional(Type.String({ maxLength: 128 })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
    resourceId: Type.Optional(Id),
  },
  strict,
);
/** Empty body (some POSTs take none). */
export const EmptyBody = Type.Object({}, strict);

/** Static type of a schema. */
export type StaticOf<T extends TSchema> = Static<T>;

/** POST /plan-previews */
export const RequestPlanPreviewBody = Type.Object(
  {
    repoId: Id,
    /** A branch or a commit of the repository. */
    head: Type.String({ minLength: 1, maxLength: 255, pattern: "^[A-Za-z0-9._/@+-]+$" }),
    /** The branch deployed from; default each piped's branch of the repository. */
    baseBranch: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, pattern: "^[A-Za-z0-9._/+-]+$" }),
    ),
    /** How long each piped may take (default 300). */
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  },
  strict,
);
/** GET /plan-previews */
export const PlanPreviewResultsQuery = Type.Object(
  { commandId: Type.Array(Id, { minItems: 1, maxItems: 100 }) },
  strict,
);

/** POST /events (PipeCD's RegisterEvent) */
export const RegisterEventBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    data: Type.String({ minLength: 1, maxLength: 4096 }),
    labels: Type.Optional(Labels),
    /** Commit trailers of the commit the event makes (keys `a-b-c`). */
    contexts: Type.Optional(
      Type.Record(
        Type.String({ pattern: "^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$", maxLength: 63 }),
        Type.String({ maxLength: 1024 }),
        { maxProperties: 32 },
      ),
    ),
  },
  strict,
);
/** GET /events */
export const ListEventsQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  strict,
);
