import { roleName } from "@pipecd-ts/model";
import type { HandlerDeps, Handlers } from "./shared.js";

/** Sign-in, sign-out and who the caller is. */
export function sessionHandlers(
  deps: Pick<HandlerDeps, "auth" | "actions">,
): Pick<Handlers, "login" | "logout" | "me"> {
  const { actions } = deps;
  return {
    async login(req, ctx) {
      const { token, principal, expiresAt } = await deps.auth.login(
        req.body.username,
        req.body.password,
        ctx.ip,
      );
      ctx.setSession(token, expiresAt);
      await actions.audit(principal, "user.login", "user", principal.username, {}, ctx.ip);
      return { user: { username: principal.username, role: roleName(principal.role) } };
    },

    async logout(_req, ctx) {
      if (ctx.principal.sessionHash) await deps.auth.logout(ctx.principal.sessionHash);
      ctx.setSession(undefined);
      return {};
    },

    async me(_req, ctx) {
      const p = ctx.principal;
      return {
        user: {
          username: p.username,
          role: roleName(p.role),
          ...(p.apiKeyId ? { apiKeyId: p.apiKeyId } : {}),
        },
      };
    },
  };
}
