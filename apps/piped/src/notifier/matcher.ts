import { groupOf, type NotificationRoute } from "@pipecd-ts/config";
import { appNameOf, labelsOf, type NotificationEvent } from "./event.js";

/**
 * PipeCD's route matching (`matcher.Match`, features §5.3), in its order: ignored events,
 * groups, apps and labels drop; then `events`/`groups` must contain the event; `apps` must name
 * the event's app (events without an app pass); `labels` must all match (events without labels
 * pass). PipeCD's quirk is kept: an event label whose value is empty is dropped whenever
 * `ignoreLabels` lacks its key (the missing key reads as "").
 */
export function routeMatches(route: NotificationRoute, e: NotificationEvent): boolean {
  const group = groupOf(e.type);
  if (route.ignoreEvents.includes(e.type) || route.ignoreGroups.includes(group)) return false;
  const app = appNameOf(e);
  if (app && route.ignoreApps.includes(app)) return false;
  const labels = labelsOf(e);
  for (const [k, v] of Object.entries(labels ?? {}))
    if ((route.ignoreLabels[k] ?? "") === v) return false;
  if (route.events.length && !route.events.includes(e.type)) return false;
  if (route.groups.length && !route.groups.includes(group)) return false;
  if (route.apps.length && app && !route.apps.includes(app)) return false;
  const want = Object.entries(route.labels);
  if (want.length && labels) {
    if (Object.keys(labels).length < want.length) return false;
    if (want.some(([k, v]) => labels[k] !== v)) return false;
  }
  return true;
}
