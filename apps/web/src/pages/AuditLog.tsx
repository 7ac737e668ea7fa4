import { useState, type ReactNode } from "react";
import { useApi } from "../api.js";
import { Empty, ErrorBox, Loading, Pager } from "../components/common.js";
import { when } from "../format.js";

const PAGE = 50;

/** The audit log of human actions (admin), newest first, with an actor filter and pages. */
export function AuditLogPage(): ReactNode {
  const [actor, setActor] = useState("");
  const [cursors, setCursors] = useState<string[]>([""]);
  const cursor = cursors[cursors.length - 1] ?? "";
  const log = useApi(
    "listAuditLog",
    { query: { limit: PAGE, ...(cursor ? { cursor } : {}), ...(actor ? { actor } : {}) } },
    `${actor}|${cursor}`,
  );
  const list = log.data?.entries ?? [];
  return (
    <section>
      <h1>Audit log</h1>
      <div className="filters" role="search">
        <label>
          Actor
          <input
            type="search"
            placeholder="username"
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                setCursors([""]);
                setActor(e.currentTarget.value.trim());
              }
            }}
          />
        </label>
      </div>
      <ErrorBox error={log.error} />
      {log.data === undefined && !log.error && <Loading what="the audit log" />}
      {log.data && list.length === 0 && <Empty>No entries.</Empty>}
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Time</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Resource</th>
                <th>Details</th>
                <th>Source</th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.time)}</td>
                  <td>
                    {e.actor}
                    {e.apiKeyId && <div className="muted small">key {e.apiKeyId}</div>}
                  </td>
                  <td>{e.action}</td>
                  <td>
                    {e.resourceType} <span className="muted small">{e.resourceId}</span>
                  </td>
                  <td className="small">
                    {Object.entries(e.details ?? {})
                      .map(([k, v]) => `${k}=${v}`)
                      .join(", ")}
                  </td>
                  <td className="small">{e.sourceIp}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        hasPrev={cursors.length > 1}
        hasNext={!!log.data?.cursor}
        onPrev={() => setCursors((c) => c.slice(0, -1))}
        onNext={() => setCursors((c) => [...c, log.data?.cursor ?? ""])}
      />
    </section>
  );
}
