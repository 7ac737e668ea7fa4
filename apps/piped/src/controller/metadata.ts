import type { Deployment } from "@pipecd-ts/proto";
import type { MetadataScope, MetadataStore } from "@pipecd-ts/plugin-sdk";
import type { ApiClient } from "../apiclient/client.js";
import type { Reporter } from "../apiclient/reporter.js";

/**
 * Deployment and stage metadata (PipeCD `metadatastore`): initialised from the deployment as the
 * control plane has it, merged locally and persisted on every put. A put resolves only once the
 * control plane stored it, so what a stage recorded survives a piped crash right after.
 */
export function createMetadataStore(
  d: Deployment,
  deps: { api: Pick<ApiClient, "call">; reporter: Pick<Reporter, "report"> },
): MetadataStore & {
  /**
   * Merges values the control plane stored by another call (a status report that carried them)
   * into the deployment's (`stageId` undefined) or a stage's local view.
   */
  stored(stageId: string | undefined, values: Record<string, string>): void;
} {
  const shared: Record<string, string> = { ...d.metadata };
  const stages = new Map<string, Record<string, string>>(
    d.stages.map((s) => [s.id, { ...s.metadata }]),
  );
  const scope = (
    values: Record<string, string>,
    persist: (v: Record<string, string>) => Promise<void>,
  ): MetadataScope => ({
    get: (k) => values[k],
    all: () => ({ ...values }),
    put: async (v) => {
      Object.assign(values, v);
      await persist(v);
    },
  });
  return {
    stored(stageId, v) {
      if (stageId === undefined) Object.assign(shared, v);
      else {
        let values = stages.get(stageId);
        if (!values) stages.set(stageId, (values = {}));
        Object.assign(values, v);
      }
    },
    shared: scope(shared, (metadata) =>
      deps.reporter.report(d.id, "save deployment metadata", (signal) =>
        deps.api.call("saveDeploymentMetadata", { deploymentId: d.id, metadata }, { signal }),
      ),
    ),
    stage(stageId) {
      let values = stages.get(stageId);
      if (!values) stages.set(stageId, (values = {}));
      return scope(values, (metadata) =>
        deps.reporter.report(d.id, `save stage metadata ${stageId}`, (signal) =>
          deps.api.call("saveStageMetadata", { deploymentId: d.id, stageId, metadata }, { signal }),
        ),
      );
    },
  };
}
