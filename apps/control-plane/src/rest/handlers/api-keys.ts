import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { APIKeySchema, Role } from "@pipecd-ts/proto";
import { parseRole, roleName } from "@pipecd-ts/model";
import { PermissionDeniedError } from "@pipecd-ts/runtime";
import { generateSecret, hashSecret } from "../../auth/secrets.js";
import { json, type HandlerDeps, type HandlerKit, type Handlers } from "./shared.js";

/** Creating, listing and disabling API keys. */
export function apiKeyHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<Handlers, "createAPIKey" | "listAPIKeys" | "disableAPIKey"> {
  const { ds, actions, projectId } = deps;
  const { now, inProject } = kit;
  return {
    async createAPIKey(req, ctx) {
      const role = parseRole(req.body.role) ?? Role.VIEWER;
      // Personal keys: what lets a named approver approve from pipectl. A non-admin may create
      // one only while signed in (a leaked key cannot mint more) and never above their role.
      if (ctx.principal.role !== Role.ADMIN) {
        if (!ctx.principal.sessionHash)
          throw new PermissionDeniedError(
            "only admins may create API keys with an API key; sign in to create a personal one",
          );
        if (role > ctx.principal.role)
          throw new PermissionDeniedError(
            `a ${req.body.role} key would exceed your role (${roleName(ctx.principal.role)})`,
          );
      }
      const id = randomUUID();
      const key = `${id}.${generateSecret()}`;
      const stamp = now();
      const apiKey = await ds.apiKeys.create(
        create(APIKeySchema, {
          id,
          name: req.body.name,
          projectId,
          role,
          creator: ctx.principal.username,
          createdAt: stamp,
          updatedAt: stamp,
        }),
        hashSecret(key),
      );
      await actions.audit(
        ctx.principal,
        "apikey.create",
        "apikey",
        id,
        { name: apiKey.name, role: req.body.role },
        ctx.ip,
      );
      return { id, key, apiKey: json(APIKeySchema, apiKey) };
    },

    async listAPIKeys() {
      return { apiKeys: (await ds.apiKeys.list(projectId)).map((k) => json(APIKeySchema, k)) };
    },

    async disableAPIKey(req, ctx) {
      await inProject(ds.apiKeys.get(req.params.id), "API key", req.params.id);
      const k = await ds.apiKeys.update(req.params.id, (k) => {
        k.disabled = true;
      });
      await actions.audit(ctx.principal, "apikey.disable", "apikey", k.id, {}, ctx.ip);
      return { apiKey: json(APIKeySchema, k) };
    },
  };
}
