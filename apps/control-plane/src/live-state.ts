import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ApplicationLiveStateSnapshotSchema,
  type ApplicationLiveStateDelta,
  type ApplicationLiveStateSnapshot,
  type KubernetesResourceState,
} from "@pipecd-ts/proto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Resources one application's live state may hold (a runaway report is refused, not stored). */
export const MAX_LIVE_RESOURCES = 5_000;

/**
 * The snapshot after `delta`: resources upserted by id (in place, new ones appended), removed
 * ids dropped, the application's health replaced. The version is the datastore's to set.
 */
export function applyLiveStateDelta(
  cur: ApplicationLiveStateSnapshot,
  delta: ApplicationLiveStateDelta,
  at: Timestamp,
): ApplicationLiveStateSnapshot {
  const byId = new Map<string, KubernetesResourceState>(
    cur.kubernetesResources.map((r) => [r.id, r]),
  );
  for (const id of delta.removedIds) byId.delete(id);
  for (const r of delta.upserted) {
    if (!r.id) throw new InvalidArgumentError("live state delta: a resource without an id");
    byId.set(r.id, r);
  }
  return create(ApplicationLiveStateSnapshotSchema, {
    ...cur,
    kubernetesResources: checkedResources([...byId.values()]),
    healthStatus: delta.healthStatus,
    healthDescription: delta.healthDescription,
    updatedAt: at,
  });
}

/** Refuses more than {@link MAX_LIVE_RESOURCES} resources in one application's live state. */
export function checkedResources(rs: KubernetesResourceState[]): KubernetesResourceState[] {
  if (rs.length > MAX_LIVE_RESOURCES)
    throw new InvalidArgumentError(
      `live state: ${rs.length} resources in one application, more than the ${MAX_LIVE_RESOURCES} allowed`,
    );
  return rs;
}
