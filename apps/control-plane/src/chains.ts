import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Datastore } from "@pipecd-ts/datastore";
import {
  ApplicationKind,
  ChainStatus,
  Command_Type,
  CommandSchema,
  CommandStatus,
  DeploymentChainSchema,
  DeploymentStatus,
  type Application,
  type Command,
  type CreateDeploymentChainRequest_Matcher,
  type Deployment,
  type DeploymentChain,
} from "@pipecd-ts/proto";
import { isDeploymentCompleted } from "@pipecd-ts/model";
import { AppError, type Clock, type Logger } from "@pipecd-ts/runtime";
import type { Hub } from "./hub.js";

/** What the chain controller needs. */
export interface ChainControllerDeps {
  ds: Pick<Datastore, "chains" | "applications" | "commands">;
  hub: Pick<Hub, "commandsStored" | "emit">;
  clock: Clock;
  logger: Logger;
}

/** A block's status from its nodes' deployments (PipeCD's ChainBlock.DesiredStatus). */
function blockStatus(b: DeploymentChain["blocks"][number]): ChainStatus {
  const s = b.nodes.map((n) => n.deploymentStatus);
  if (s.length && s.every((x) => x === DeploymentStatus.DEPLOYMENT_SUCCESS))
    return ChainStatus.DEPLOYMENT_CHAIN_SUCCESS;
  if (s.includes(DeploymentStatus.DEPLOYMENT_FAILURE)) return ChainStatus.DEPLOYMENT_CHAIN_FAILURE;
  if (s.includes(DeploymentStatus.DEPLOYMENT_CANCELLED))
    return ChainStatus.DEPLOYMENT_CHAIN_CANCELLED;
  return b.status === ChainStatus.DEPLOYMENT_CHAIN_PENDING
    ? ChainStatus.DEPLOYMENT_CHAIN_PENDING
    : ChainStatus.DEPLOYMENT_CHAIN_RUNNING;
}

const matches = (a: Application, m: CreateDeploymentChainRequest_Matcher): boolean =>
  (!m.name || a.name === m.name) &&
  (!m.kind || ApplicationKind[a.kind] === m.kind) &&
  Object.entries(m.labels).every(([k, v]) => a.labels[k] === v);

/**
 * Deployment chains (PipeCD's postSync.chain, features §7), driven by events rather than PipeCD's
 * 15-second ops loop and planning gate: block 0 is the deployment that started the chain; when
 * every deployment of a block succeeded, the next block's applications are told to deploy
 * (CHAIN_SYNC_APPLICATION to their pipeds); when one fails or is cancelled, or a piped refuses
 * (`trigger.onChain` disabled), the chain ends FAILURE with the reason and nothing more starts.
 */
export class ChainController {
  constructor(private readonly d: ChainControllerDeps) {}

  /**
   * The chain `first` starts: one block per matcher, of the enabled applications it matches
   * (name, kind and labels, the ones set; PipeCD ignores labels). A matcher that matches no
   * application makes the chain FAILURE at once, with the reason; `first` deploys either way.
   */
  async create(first: Deployment, matchers: readonly CreateDeploymentChainRequest_Matcher[]) {
    const now = timestampFromDate(this.d.clock.now());
    const apps: Application[] = [];
    let cursor = "";
    do {
      const page = await this.d.ds.applications.list({
        projectId: first.projectId,
        disabled: false,
        limit: 500,
        cursor,
      });
      apps.push(...page.items.filter((a) => !a.deleted));
      cursor = page.cursor;
    } while (cursor);
    const chain = create(DeploymentChainSchema, {
      // One chain per first deployment: a retried call finds the one the first call made.
      id: `chain-${first.id}`,
      projectId: first.projectId,
      status: ChainStatus.DEPLOYMENT_CHAIN_RUNNING,
      blocks: [
        {
          status: ChainStatus.DEPLOYMENT_CHAIN_RUNNING,
          startedAt: now,
          nodes: [
            {
              applicationId: first.applicationId,
              applicationName: first.applicationName,
              pipedId: first.pipedId,
              deploymentId: first.id,
              deploymentStatus: first.status,
            },
          ],
        },
        ...matchers.map((m) => ({
          status: ChainStatus.DEPLOYMENT_CHAIN_PENDING,
          nodes: apps
            .filter((a) => a.id !== first.applicationId && matches(a, m))
            .map((a) => ({ applicationId: a.id, applicationName: a.name, pipedId: a.pipedId })),
        })),
      ],
      createdAt: now,
    });
    const empty = chain.blocks.findIndex((b) => b.nodes.length === 0);
    if (empty > 0) {
      const m = matchers[empty - 1]!;
      chain.status = ChainStatus.DEPLOYMENT_CHAIN_FAILURE;
      chain.statusReason = `block ${empty} (${JSON.stringify({ name: m.name, kind: m.kind, labels: m.labels })}) matches no enabled application`;
      chain.completedAt = now;
    }
    try {
      await this.d.ds.chains.create(chain);
    } catch (err) {
      if (err instanceof AppError && err.code === "ALREADY_EXISTS")
        return this.d.ds.chains.get(chain.id);
      throw err;
    }
    this.d.hub.emit({ type: "chain", id: chain.id, status: ChainStatus[chain.status] });
    this.d.logger.info(
      { chainId: chain.id, blocks: chain.blocks.length, status: ChainStatus[chain.status] },
      "deployment chain created",
    );
    return chain;
  }

  /** A deployment of a chain was created (the node learns its id). */
  async deploymentCreated(dep: Deployment): Promise<void> {
    if (!dep.deploymentChainId) return;
    await this.update(dep.deploymentChainId, (c) => {
      const node = c.blocks[dep.deploymentChainBlockIndex]?.nodes.find(
        (n) => n.applicationId === dep.applicationId,
      );
      if (node && !node.deploymentId) {
        node.deploymentId = dep.id;
        node.deploymentStatus = dep.status;
      }
    });
  }

  /** A deployment of a chain completed: its block, and maybe the next, move on. */
  async deploymentCompleted(dep: Deployment): Promise<void> {
    if (!dep.deploymentChainId || !isDeploymentCompleted(dep.status)) return;
    let start: { chain: DeploymentChain; index: number } | undefined;
    await this.update(dep.deploymentChainId, (c) => {
      if (c.status !== ChainStatus.DEPLOYMENT_CHAIN_RUNNING) return;
      const i = dep.deploymentChainBlockIndex;
      const block = c.blocks[i];
      const node = block?.nodes.find((n) => n.applicationId === dep.applicationId);
      // Only the deployment the chain recorded for the slot counts (not a stray second one).
      if (!block || !node || (node.deploymentId && node.deploymentId !== dep.id)) return;
      node.deploymentId ||= dep.id;
      node.deploymentStatus = dep.status;
      const now = timestampFromDate(this.d.clock.now());
      if (block.status === ChainStatus.DEPLOYMENT_CHAIN_SUCCESS) {
        // A re-report (a retried RPC): make sure the next block was started, nothing more.
        if (c.blocks[i + 1]?.status === ChainStatus.DEPLOYMENT_CHAIN_RUNNING)
          start = { chain: c, index: i + 1 };
        return;
      }
      block.status = blockStatus(block);
      if (block.status === ChainStatus.DEPLOYMENT_CHAIN_SUCCESS) {
        block.completedAt = now;
        const next = c.blocks[i + 1];
        if (!next) {
          c.status = ChainStatus.DEPLOYMENT_CHAIN_SUCCESS;
          c.statusReason = "every block succeeded";
          c.completedAt = now;
          return;
        }
        next.status = ChainStatus.DEPLOYMENT_CHAIN_RUNNING;
        next.startedAt = now;
        start = { chain: c, index: i + 1 };
      } else if (
        block.status === ChainStatus.DEPLOYMENT_CHAIN_FAILURE ||
        block.status === ChainStatus.DEPLOYMENT_CHAIN_CANCELLED
      ) {
        block.completedAt = now;
        c.status = ChainStatus.DEPLOYMENT_CHAIN_FAILURE;
        c.statusReason = `${dep.applicationName} (block ${i}) ended ${DeploymentStatus[dep.status]}${dep.statusReason ? `: ${dep.statusReason}` : ""}; the blocks after it were not started`;
        c.completedAt = now;
      }
    });
    if (start) await this.startBlock(start.chain, start.index);
  }

  /** A piped answered a CHAIN_SYNC_APPLICATION: a refusal ends the chain with its reason. */
  async commandHandled(cmd: Command): Promise<void> {
    if (cmd.type !== Command_Type.CHAIN_SYNC_APPLICATION) return;
    if (cmd.status !== CommandStatus.COMMAND_FAILED) return;
    const p = cmd.payload.case === "chainSyncApplication" ? cmd.payload.value : undefined;
    if (!p) return;
    await this.update(p.deploymentChainId, (c) => {
      if (c.status !== ChainStatus.DEPLOYMENT_CHAIN_RUNNING) return;
      const now = timestampFromDate(this.d.clock.now());
      const block = c.blocks[p.blockIndex];
      const node = block?.nodes.find((n) => n.applicationId === p.applicationId);
      if (block) {
        block.status = ChainStatus.DEPLOYMENT_CHAIN_FAILURE;
        block.completedAt = now;
      }
      c.status = ChainStatus.DEPLOYMENT_CHAIN_FAILURE;
      c.statusReason = `${node?.applicationName ?? p.applicationId} (block ${p.blockIndex}) was not deployed: ${cmd.metadata.reason || "its piped refused"}`;
      c.completedAt = now;
    });
  }

  /**
   * Tells each application of block `index` to deploy; idempotent (one command per chain, block
   * and application, however often it is called), so a retried report starts nothing twice and a
   * start cut short is completed by the next report.
   */
  private async startBlock(chain: DeploymentChain, index: number): Promise<void> {
    const now = timestampFromDate(this.d.clock.now());
    for (const n of chain.blocks[index]?.nodes ?? []) {
      let cmd: Command;
      try {
        cmd = await this.d.ds.commands.create(
          create(CommandSchema, {
            id: randomUUID(),
            type: Command_Type.CHAIN_SYNC_APPLICATION,
            pipedId: n.pipedId,
            applicationId: n.applicationId,
            projectId: chain.projectId,
            commander: `chain:${chain.id}`,
            status: CommandStatus.COMMAND_NOT_HANDLED_YET,
            payload: {
              case: "chainSyncApplication",
              value: {
                deploymentChainId: chain.id,
                blockIndex: index,
                applicationId: n.applicationId,
              },
            },
            createdAt: now,
            updatedAt: now,
          }),
          { dedupKey: `chain:${chain.id}:${index}:${n.applicationId}` },
        );
      } catch (err) {
        if (err instanceof AppError && err.code === "ALREADY_EXISTS") continue;
        throw err;
      }
      await this.d.hub.commandsStored(cmd.pipedId);
    }
    this.d.logger.info({ chainId: chain.id, block: index }, "deployment chain: block started");
  }

  private async update(id: string, fn: (c: DeploymentChain) => void): Promise<void> {
    const c = await this.d.ds.chains.update(id, fn);
    this.d.hub.emit({ type: "chain", id: c.id, status: ChainStatus[c.status] });
  }
}
