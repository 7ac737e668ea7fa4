import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CommandSchema,
  CommandStatus,
  Command_Type,
  DeploymentSchema,
  DeploymentStatus,
  type Deployment,
} from "@pipecd-ts/proto";
import { ExecutorRegistry } from "@pipecd-ts/plugin-sdk";
import { silentLogger, systemClock } from "@pipecd-ts/runtime";
import { eventually } from "@pipecd-ts/testkit";
import type { ApiClient } from "../src/apiclient/client.js";
import { CommandStore } from "../src/apiclient/commands.js";
import { Controller, type ControllerDeps, type Workspace } from "../src/controller/controller.js";
import { StageLogPersister } from "../src/stagelog/stage-log.js";

// The controller's limit on deployments running at once (issue 17). The control plane and the
// hooks that prepare a deployment are small fakes; the controller is real.

/** A controller over the fake control plane `call`, with its own command store and reporter. */
function newController(
  call: (method: string, req: Record<string, unknown>) => Promise<unknown>,
  o: { hooks: ControllerDeps["hooks"]; maxConcurrentDeployments?: number },
): Controller {
  const api = { call } as unknown as Pick<ApiClient, "call">;
  const reporter = {
    report: async (_k: string, _what: string, fn: (s: AbortSignal) => Promise<unknown>) => {
      await fn(new AbortController().signal);
    },
  };
  return new Controller({
    api,
    reporter,
    commands: new CommandStore({ api, reporter, clock: systemClock, route: () => undefined }),
    registry: new ExecutorRegistry(),
    stageLogs: new StageLogPersister({ api, reporter, clock: systemClock, logger: silentLogger() }),
    clock: systemClock,
    logger: silentLogger(),
    pipedId: "p",
    resyncIntervalMs: 60_000,
    ...o,
  });
}

describe("Controller: maxConcurrentDeployments", () => {
  it("runs at most the limit at once, the oldest first; a finished one frees a slot for the next", async () => {
    const deployments = ["a", "b", "c"].map((app, i) =>
      create(DeploymentSchema, {
        id: `d-${app}`,
        applicationId: `app-${app}`,
        status: DeploymentStatus.DEPLOYMENT_PENDING,
        createdAt: timestampFromDate(new Date(1_000_000 + i * 1_000)),
      }),
    );
    let lists = 0;
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const controller = newController(
      async (method, req) => {
        if (method === "listNotCompletedDeployments") {
          lists++;
          return { deployments: [...deployments], cursor: "" };
        }
        if (method === "reportDeploymentCompleted") {
          const i = deployments.findIndex((d) => d.id === req.deploymentId);
          if (i >= 0) deployments.splice(i, 1);
        }
        return {};
      },
      {
        maxConcurrentDeployments: 2,
        hooks: {
          // Preparing blocks until the test lets it go, then fails: the deployment ends FAILURE.
          prepare: (d: Deployment) => {
            started.push(d.id);
            return new Promise<Workspace>((_resolve, reject) =>
              gates.set(d.id, () => reject(new Error("released by the test"))),
            );
          },
          plan: () => Promise.reject(new Error("never planned")),
        },
      },
    );
    const ac = new AbortController();
    const running = controller.run(ac.signal);
    try {
      await eventually(async () => started.length === 2, 5_000, "two deployments started");
      assert.deepEqual(started, ["d-a", "d-b"], "the oldest first");
      const before = lists;
      controller.kick();
      await eventually(async () => lists > before, 5_000, "another sync");
      assert.deepEqual(started, ["d-a", "d-b"], "the third waits for a slot");
      gates.get("d-a")?.();
      await eventually(async () => started.length === 3, 5_000, "the third deployment started");
      assert.equal(started[2], "d-c");
    } finally {
      for (const g of gates.values()) g();
      ac.abort();
      await running;
    }
  });
});

describe("Controller: commands for deployments that are not running", () => {
  it("a command buffered for a deployment no listing shows is failed at the next sync, not kept forever", async () => {
    const acks: { commandId: string; status: CommandStatus }[] = [];
    let lists = 0;
    const controller = newController(
      async (method, req) => {
        if (method === "listNotCompletedDeployments") {
          lists++;
          return { deployments: [], cursor: "" };
        }
        if (method === "reportCommandHandled")
          acks.push({
            commandId: (req.commandId as string | undefined) ?? "",
            status: (req.status as CommandStatus | undefined) ?? 0,
          });
        return {};
      },
      {
        hooks: {
          prepare: () => Promise.reject(new Error("no deployment to prepare")),
          plan: () => Promise.reject(new Error("never planned")),
        },
      },
    );
    const ac = new AbortController();
    const running = controller.run(ac.signal);
    try {
      await eventually(async () => lists >= 1, 5_000, "the first sync");
      controller.onCommand(
        create(CommandSchema, {
          id: "c-late",
          deploymentId: "d-done",
          type: Command_Type.APPROVE_STAGE,
        }),
      );
      await eventually(async () => acks.length === 1, 5_000, "the command to be failed");
      assert.deepEqual(acks, [{ commandId: "c-late", status: CommandStatus.COMMAND_FAILED }]);
    } finally {
      ac.abort();
      await running;
    }
  });
});
