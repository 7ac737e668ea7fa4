import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Piped_ConnectionStatus, PipedSchema, type Piped } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";
import { hybridEncrypt, parsePublicKey } from "@pipecd-ts/runtime/hybrid";
import { generateSecret, hashSecret } from "../../auth/secrets.js";
import {
  json,
  type HandlerContext,
  type HandlerDeps,
  type HandlerKit,
  type Handlers,
} from "./shared.js";

/** Registering pipeds, their keys, enabling/disabling them and encrypting secrets for them. */
export function pipedHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<
  Handlers,
  | "registerPiped"
  | "listPipeds"
  | "getPiped"
  | "updatePiped"
  | "rotatePipedKey"
  | "deleteOldPipedKeys"
  | "encryptSecret"
  | "enablePiped"
  | "disablePiped"
> {
  const { ds, actions, hub, clock, projectId } = deps;
  const { now, getPiped } = kit;

  const pipedJson = (p: Piped) => {
    const seen = p.lastSeenAt ? Number(p.lastSeenAt.seconds) * 1000 : 0;
    p.status =
      hub.isConnected(p.id) || clock.now().getTime() - seen < deps.offlineAfterMs
        ? Piped_ConnectionStatus.ONLINE
        : Piped_ConnectionStatus.OFFLINE;
    return json(PipedSchema, p);
  };

  async function setPipedDisabled(id: string, disabled: boolean, ctx: HandlerContext) {
    await getPiped(id);
    const p = await ds.pipeds.update(id, (p) => {
      p.disabled = disabled;
    });
    deps.auth.invalidatePiped(id);
    await hub.pipedAccessChanged(id);
    await actions.audit(
      ctx.principal,
      disabled ? "piped.disable" : "piped.enable",
      "piped",
      id,
      {},
      ctx.ip,
    );
    hub.emit({ type: "piped", id, pipedId: id });
    return { piped: pipedJson(p) };
  }

  return {
    async registerPiped(req, ctx) {
      const key = generateSecret();
      const stamp = now();
      const piped = await ds.pipeds.create(
        create(PipedSchema, {
          id: randomUUID(),
          name: req.body.name,
          desc: req.body.description ?? "",
          projectId,
          createdAt: stamp,
          updatedAt: stamp,
        }),
        {
          id: randomUUID(),
          hash: hashSecret(key),
          creator: ctx.principal.username,
          createdAt: clock.now(),
        },
      );
      await actions.audit(
        ctx.principal,
        "piped.register",
        "piped",
        piped.id,
        { name: piped.name },
        ctx.ip,
      );
      hub.emit({ type: "piped", id: piped.id, pipedId: piped.id });
      return { id: piped.id, key, piped: pipedJson(piped) };
    },

    async listPipeds() {
      return { pipeds: (await ds.pipeds.list(projectId)).map(pipedJson) };
    },

    async getPiped(req) {
      return { piped: pipedJson(await getPiped(req.params.id)) };
    },

    async updatePiped(req, ctx) {
      await getPiped(req.params.id);
      const p = await ds.pipeds.update(req.params.id, (p) => {
        if (req.body.name !== undefined) p.name = req.body.name;
        if (req.body.description !== undefined) p.desc = req.body.description;
      });
      await actions.audit(ctx.principal, "piped.update", "piped", p.id, {}, ctx.ip);
      return { piped: pipedJson(p) };
    },

    async rotatePipedKey(req, ctx) {
      await getPiped(req.params.id);
      const key = generateSecret();
      const p = await ds.pipeds.addKey(req.params.id, {
        id: randomUUID(),
        hash: hashSecret(key),
        creator: ctx.principal.username,
        createdAt: clock.now(),
      });
      deps.auth.invalidatePiped(p.id);
      await hub.pipedAccessChanged(p.id);
      await actions.audit(ctx.principal, "piped.rotate-key", "piped", p.id, {}, ctx.ip);
      return { key, piped: pipedJson(p) };
    },

    async deleteOldPipedKeys(req, ctx) {
      await getPiped(req.params.id);
      const p = await ds.pipeds.deleteOldKeys(req.params.id);
      deps.auth.invalidatePiped(p.id);
      await hub.pipedAccessChanged(p.id);
      await actions.audit(ctx.principal, "piped.delete-old-keys", "piped", p.id, {}, ctx.ip);
      return { piped: pipedJson(p) };
    },

    async encryptSecret(req, ctx) {
      const p = await getPiped(req.params.id);
      const enc = p.secretEncryption;
      if (!enc || enc.type !== "KEY_PAIR" || !enc.publicKey)
        throw new FailedPreconditionError(
          `piped ${p.id} has no secret encryption key: set secretManagement (KEY_PAIR) in its config and restart it`,
        );
      const plaintext = req.body.base64Encoding
        ? Buffer.from(req.body.plaintext).toString("base64")
        : req.body.plaintext;
      const ciphertext = hybridEncrypt(parsePublicKey(enc.publicKey), plaintext);
      // The audit log records that a secret was encrypted, never what it was.
      await actions.audit(
        ctx.principal,
        "piped.encrypt-secret",
        "piped",
        p.id,
        { base64Encoding: String(req.body.base64Encoding ?? false) },
        ctx.ip,
      );
      return { ciphertext };
    },

    enablePiped: (req, ctx) => setPipedDisabled(req.params.id, false, ctx),
    disablePiped: (req, ctx) => setPipedDisabled(req.params.id, true, ctx),
  };
}
