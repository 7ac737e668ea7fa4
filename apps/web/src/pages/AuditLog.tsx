import { useState, type ReactNode } from "react";
import { useApi } from "../api.js";
import { Listing, useCursorPages } from "../components/common.js";
import { when } from "../format.js";

const PAGE = 50;

/** The audit log of human actions (admin), newest first, with an actor filter and pages. */
export function AuditLogPage(): ReactNode {
  const [actor, setActor] = useState("");
  const { cursor, pager } = useCursorPages(actor);
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
                setActor(e.currentTarget.value.trim());
              }
            }}
          />
        </label>
      </div>
      <Listing
        state={log}
        count={list.length}
        what="the audit log"
        empty="No entries."
        head={
          <>
            <th>Time</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Resource</th>
            <th>Details</th>
            <th>Source</th>
          </>
        }
      >
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
      </Listing>
      {pager(log.data?.cursor)}
    </section>
  );
}
