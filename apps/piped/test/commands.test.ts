import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { CommandSchema, CommandStatus, Command_Type, type Command } from "@pipecd-ts/proto";
import { AppError, silentLogger, systemClock } from "@pipecd-ts/runtime";
import type { ApiClient } from "../src/apiclient/client.js";
import { CommandStore } from "../src/apiclient/commands.js";
import { Reporter } from "../src/apiclient/reporter.js";

// The piped's command store with the real Reporter; the control plane is a recording fake whose
// first ack fails as a dropped connection would.

describe("CommandStore", () => {
  it("routes each command once however often the stream sends it, and acks it once, retrying a failed ack", async () => {
    const acks: { commandId: string; status: CommandStatus }[] = [];
    let failNext = 1;
    const api = {
      call: async (method: string, req: { commandId: string; status: CommandStatus }) => {
        assert.equal(method, "reportCommandHandled");
        if (failNext-- > 0) throw new AppError("UNAVAILABLE", "connection dropped");
        acks.push({ commandId: req.commandId, status: req.status });
        return {};
      },
    } as unknown as Pick<ApiClient, "call">;
    const routed: string[] = [];
    const store = new CommandStore({
      api,
      reporter: new Reporter(silentLogger()),
      clock: systemClock,
      route: (cmd) => routed.push(cmd.id),
    });
    const cmd = (id: string): Command =>
      create(CommandSchema, { id, deploymentId: "d1", type: Command_Type.APPROVE_STAGE });
    store.receive(cmd("c1"));
    store.receive(cmd("c1")); // resent after a reconnect
    store.receive(cmd("c2"));
    assert.deepEqual(routed, ["c1", "c2"]);
    assert.equal(store.pending(), 2);
    await store.ack(cmd("c1"), true);
    await store.ack(cmd("c1"), true); // a second ack does nothing
    await store.ack(cmd("c2"), false, { reason: "no longer waiting" });
    assert.deepEqual(acks, [
      { commandId: "c1", status: CommandStatus.COMMAND_SUCCEEDED },
      { commandId: "c2", status: CommandStatus.COMMAND_FAILED },
    ]);
    store.receive(cmd("c1")); // a late duplicate of an acked command
    assert.deepEqual(routed, ["c1", "c2"]);
    assert.equal(store.pending(), 0);
  });
});
