import type { StoredStreamEvent } from "../types.js";
import { MAX_NOTIFY_PAYLOAD } from "./entities.js";

/** Most events one {@link StreamEventRepository.listAfter} returns. */
export const MAX_STREAM_EVENTS_PAGE = 10_000;

/** The notification announcing stored events (a run of {@link streamEventChunks}). */
export function streamEventAnnouncement(events: readonly StoredStreamEvent[]): string {
  return `[${events.map((e) => `[${e.id},${e.data}]`).join(",")}]`;
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
