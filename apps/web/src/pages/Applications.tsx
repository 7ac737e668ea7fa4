import { useState, type ReactNode } from "react";
import { useApi, useLive } from "../api.js";
import {
  ConfigWarnings,
  SyncButton,
  Listing,
  Notice,
  Status,
  useCursorPages,
} from "../components/common.js";
import {
  HEALTH_STATUSES,
  SYNC_STATUSES,
  appSyncStatus,
  firstLine,
  shortHash,
  statusLabel,
  when,
} from "../format.js";
import { Link, setQueryParam } from "../router.js";
import { useCan } from "../session.js";
import { AddApplication } from "./AddApplication.js";

const PAGE = 50;

/**
 * Applications with their sync status, health, piped and last deployment; filters (piped and
 * name by the server, sync status and health over the loaded page); Sync and Add application
 * (editor+).
 */
export function ApplicationsPage(props: { query: URLSearchParams }): ReactNode {
  const pipedId = props.query.get("pipedId") ?? "";
  const name = props.query.get("name") ?? "";
  const syncParam = props.query.get("sync") ?? "";
  const sync = SYNC_STATUSES.find((x) => x === syncParam);
  const healthParam = props.query.get("health") ?? "";
  const health = HEALTH_STATUSES.find((x) => x === healthParam);
  const [notice, setNotice] = useState<string>();
  const [adding, setAdding] = useState(false);
  const canEdit = useCan("editor");
  const filterKey = `${pipedId}|${name}`;
  const { cursor, pager } = useCursorPages(filterKey);
  const apps = useApi(
    "listApplications",
    {
      query: {
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
        ...(pipedId ? { pipedId } : {}),
        ...(name ? { name } : {}),
      },
    },
    `${filterKey}|${cursor}`,
  );
  const pipeds = useApi("listPipeds", undefined, "pipeds");
  useLive((ev) => ev.type === "application" || ev.type === "deployment", apps.reload);
  const pipedName = (id: string | undefined): string =>
    pipeds.data?.pipeds.find((p) => p.id === id)?.name ?? id ?? "—";
  const list = (apps.data?.applications ?? []).filter(
    (a) =>
      (!sync || appSyncStatus(a) === sync) && (!health || (a.healthStatus ?? "UNKNOWN") === health),
  );
  return (
    <section>
      <h1>Applications</h1>
      {canEdit && !adding && (
        <div className="actions toolbar">
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            Add application
          </button>
        </div>
      )}
      {adding && (
        <AddApplication pipeds={pipeds.data?.pipeds ?? []} onClose={() => setAdding(false)} />
      )}
      <div className="filters" role="search">
        <label>
          Piped
          <select value={pipedId} onChange={(e) => setQueryParam("pipedId", e.target.value)}>
            <option value="">All pipeds</option>
            {(pipeds.data?.pipeds ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input
            type="search"
            defaultValue={name}
            placeholder="exact name"
            onKeyDown={(e) => {
              if (e.key === "Enter") setQueryParam("name", e.currentTarget.value.trim());
            }}
            onBlur={(e) => setQueryParam("name", e.currentTarget.value.trim())}
          />
        </label>
        <StatusFilter label="Sync status" param="sync" value={sync} options={SYNC_STATUSES} />
        <StatusFilter label="Health" param="health" value={health} options={HEALTH_STATUSES} />
      </div>
      <Notice text={notice} />
      <Listing
        state={apps}
        count={list.length}
        what="applications"
        empty={
          pipedId || name || sync || health
            ? "No application matches these filters."
            : canEdit
              ? "No applications yet. Add one with Add application, pipectl or POST /api/v1/applications."
              : "No applications yet. An editor adds them."
        }
        head={
          <>
            <th>Name</th>
            <th>Sync status</th>
            <th>Health</th>
            <th>Piped</th>
            <th>Last deployment</th>
            {canEdit && <th aria-label="actions" />}
          </>
        }
      >
        {list.map((a) => {
          const last = a.mostRecentlyTriggeredDeployment;
          return (
            <tr key={a.id} data-app={a.name}>
              <td>
                <Link to={`/applications/${encodeURIComponent(a.id ?? "")}`}>{a.name}</Link>
                {a.disabled && <span className="tag">disabled</span>}
                <div className="muted small">
                  {a.gitPath?.repo?.id ?? ""}:{a.gitPath?.path}
                </div>
                <ConfigWarnings
                  warnings={a.configWarnings}
                  title={`config warnings at ${shortHash(a.configCommitHash)}`}
                />
              </td>
              <td>
                <Status status={appSyncStatus(a)} title={a.syncState?.reason} />
                {a.syncState?.shortReason && (
                  <div className="small reason">{a.syncState.shortReason}</div>
                )}
              </td>
              <td>
                <Status status={a.healthStatus ?? "UNKNOWN"} title={a.healthDescription} />
                {a.healthStatus !== "HEALTHY" && a.healthDescription && (
                  <div className="small muted">{a.healthDescription}</div>
                )}
              </td>
              <td>{pipedName(a.pipedId)}</td>
              <td>
                {last?.deploymentId ? (
                  <>
                    <Link to={`/deployments/${encodeURIComponent(last.deploymentId)}`}>
                      {shortHash(last.trigger?.commit?.hash)}{" "}
                      {firstLine(last.trigger?.commit?.message)}
                    </Link>
                    <div className="muted small">{when(last.startedAt)}</div>
                  </>
                ) : (
                  <span className="muted">never deployed</span>
                )}
              </td>
              {canEdit && (
                <td>
                  <SyncButton
                    app={a}
                    onAccepted={(id) =>
                      setNotice(`Sync of ${a.name ?? ""} requested (command ${id}).`)
                    }
                  />
                </td>
              )}
            </tr>
          );
        })}
      </Listing>
      {pager(apps.data?.cursor)}
    </section>
  );
}

/** A select of statuses kept in the query parameter `param` ("" = any). */
function StatusFilter(props: {
  label: string;
  param: string;
  value: string | undefined;
  options: readonly string[];
}): ReactNode {
  return (
    <label>
      {props.label}
      <select
        value={props.value ?? ""}
        onChange={(e) => setQueryParam(props.param, e.target.value)}
      >
        <option value="">Any</option>
        {props.options.map((x) => (
          <option key={x} value={x}>
            {statusLabel(x)}
          </option>
        ))}
      </select>
    </label>
  );
}
