import { DEPLOYMENT_STATUS_NAMES } from "@pipecd-ts/rest-api";
import type { ReactNode } from "react";
import type { DeploymentJson } from "@pipecd-ts/proto";
import { useApi, useLive } from "../api.js";
import { Listing, Status, useCursorPages } from "../components/common.js";
import { duration, firstLine, ms, shortHash, when } from "../format.js";
import { Link, setQueryParam } from "../router.js";

const PAGE = 25;
const STATUSES = DEPLOYMENT_STATUS_NAMES;

/** How the deployment was triggered, e.g. "commit by Dev" or "sync by alice". */
export function triggerText(d: DeploymentJson): string {
  const t = d.trigger;
  switch (t?.kind) {
    case "ON_COMMAND":
      return `command by ${t.commander || "unknown"}`;
    case "ON_OUT_OF_SYNC":
      return "out of sync";
    case "ON_CHAIN":
      return "deployment chain";
    default:
      return `commit by ${t?.commit?.author || "unknown"}`;
  }
}

/** Deployments, newest first: status, app, commit, trigger, times; filters; pages. */
export function DeploymentsPage(props: { query: URLSearchParams }): ReactNode {
  const applicationId = props.query.get("applicationId") ?? "";
  const statusParam = props.query.get("status") ?? "";
  const status = STATUSES.find((s) => s === statusParam);
  const { cursor, pager } = useCursorPages(`${applicationId}|${status ?? ""}`);
  const deps = useApi(
    "listDeployments",
    {
      query: {
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
        ...(applicationId ? { applicationId } : {}),
        ...(status ? { status: [status] } : {}),
      },
    },
    `${applicationId}|${status ?? ""}|${cursor}`,
  );
  const apps = useApi("listApplications", { query: { limit: 500 } }, "apps");
  // New deployments appear at the top of the first page only; later pages stay put.
  useLive(
    (ev) =>
      (ev.type === "deployment" || ev.type === "stage") &&
      (cursor === "" || (deps.data?.deployments ?? []).some((d) => d.id === ev.deploymentId)),
    deps.reload,
  );
  const list = deps.data?.deployments ?? [];
  const now = Date.now();
  return (
    <section>
      <h1>Deployments</h1>
      <div className="filters" role="search">
        <label>
          Application
          <select
            value={applicationId}
            onChange={(e) => setQueryParam("applicationId", e.target.value)}
          >
            <option value="">All applications</option>
            {(apps.data?.applications ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status ?? ""} onChange={(e) => setQueryParam("status", e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace("DEPLOYMENT_", "").replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Listing
        state={deps}
        count={list.length}
        what="deployments"
        empty={
          applicationId || status
            ? "No deployment matches these filters."
            : "No deployments yet. Commit a change to an application's Git directory."
        }
        head={
          <>
            <th>Status</th>
            <th>Application</th>
            <th>Commit</th>
            <th>Trigger</th>
            <th>Started</th>
            <th>Finished</th>
            <th>Duration</th>
          </>
        }
      >
        {list.map((d) => {
          const started = ms(d.createdAt);
          const finished = ms(d.completedAt);
          const c = d.trigger?.commit;
          return (
            <tr key={d.id} data-deployment={d.id}>
              <td>
                <Status status={d.status} title={d.statusReason} />
              </td>
              <td>
                <Link to={`/deployments/${encodeURIComponent(d.id ?? "")}`}>
                  {d.applicationName}
                </Link>
                {d.summary && <div className="muted small">{d.summary}</div>}
              </td>
              <td>
                <code>{shortHash(c?.hash)}</code> {firstLine(c?.message)}
                <div className="muted small">{c?.author}</div>
              </td>
              <td>{triggerText(d)}</td>
              <td>{when(d.createdAt)}</td>
              <td>{when(d.completedAt)}</td>
              <td>
                {started === undefined
                  ? "—"
                  : duration((finished ?? now) - started) + (finished ? "" : "…")}
              </td>
            </tr>
          );
        })}
      </Listing>
      {pager(deps.data?.cursor)}
    </section>
  );
}
