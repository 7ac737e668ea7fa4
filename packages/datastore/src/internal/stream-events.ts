import type { StoredStreamEvent } from "../types.js";
import { MAX_NOTIFY_PAYLOAD } from "./entities.js";

/** Most events one {@link StreamEventRepository.listAfter} returns. */
export const MAX_STREAM_EVENTS_PAGE = 10_000;

/**
 * The notification payloads announcing stored events: `[[id, event], ...]`, as few as fit within
 * {@link MAX_NOTIFY_PAYLOAD} each, in id order. An event too large for one notification alone is
 * left out (a resuming reader still gets it from the store).
 */
export function streamEventPayloads(events: readonly StoredStreamEvent[]): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const e of events) {
    const item = `[${e.id},${e.data}]`;
    const bytes = Buffer.byteLength(item, "utf8") + 1;
    if (bytes + 2 > MAX_NOTIFY_PAYLOAD) continue;
    if (size + bytes > MAX_NOTIFY_PAYLOAD) {
      payloads.push(`[${batch.join(",")}]`);
      batch = [];
      size = 2;
    }
    batch.push(item);
    size += bytes;
  }
  if (batch.length) payloads.push(`[${batch.join(",")}]`);
  return payloads;
}

/** Bytes an id and its brackets add to an event in a notification payload, at most. */
const PER_EVENT_OVERHEAD = 24;

/**
 * `events` (JSON texts) split into runs whose announcement (`[[id, event], ...]`) fits within
 * {@link MAX_NOTIFY_PAYLOAD} whatever their ids, in order. An event too large for one
 * notification alone is a run of its own, with `announce` false.
 */
export function streamEventChunks(
  events: readonly string[],
): { events: string[]; announce: boolean }[] {
  const chunks: { events: string[]; announce: boolean }[] = [];
  let current: string[] = [];
  let size = 2;
  for (const e of events) {
    const bytes = Buffer.byteLength(e, "utf8") + PER_EVENT_OVERHEAD;
    if (bytes + 2 > MAX_NOTIFY_PAYLOAD) {
      if (current.length) chunks.push({ events: current, announce: true });
      chunks.push({ events: [e], announce: false });
      current = [];
      size = 2;
      continue;
    }
    if (size + bytes > MAX_NOTIFY_PAYLOAD) {
      chunks.push({ events: current, announce: true });
      current = [];
      size = 2;
    }
    current.push(e);
    size += bytes;
  }
  if (current.length) chunks.push({ events: current, announce: true });
  return chunks;
}
