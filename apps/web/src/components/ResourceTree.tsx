import type { ReactNode } from "react";
import type { KubernetesResourceStateJson } from "@pipecd-ts/proto";
import { resourceTree } from "@pipecd-ts/rest-api";
import { when } from "../format.js";
import { Status } from "./common.js";

/** Deepest indentation drawn; deeper resources line up with it. */
const MAX_INDENT = 6;

/**
 * The live resource tree with each resource's health as a tree grid: kind (indented by depth),
 * namespace/name, a health badge and the health description.
 */
export function ResourceTree(props: {
  resources: readonly KubernetesResourceStateJson[];
}): ReactNode {
  const rows = resourceTree(props.resources);
  return (
    <div className="table-wrap">
      <table role="treegrid" aria-label="live resources" className="resource-tree">
        <thead>
          <tr>
            <th>Kind</th>
            <th>Name</th>
            <th>Health</th>
            <th>Description</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ resource: r, depth }) => (
            <tr
              key={r.id}
              aria-level={depth + 1}
              data-kind={r.kind}
              data-name={r.name}
              data-health={r.healthStatus ?? "UNKNOWN"}
            >
              <td className={`tree-kind indent-${Math.min(depth, MAX_INDENT)}`}>
                {depth > 0 && (
                  <span className="tree-branch" aria-hidden="true">
                    └{" "}
                  </span>
                )}
                {r.kind}
                <div className="muted small">{r.apiVersion}</div>
              </td>
              <td className="tree-name">
                <code>
                  {r.namespace ? `${r.namespace}/` : ""}
                  {r.name}
                </code>
              </td>
              <td>
                <Status status={r.healthStatus ?? "UNKNOWN"} />
              </td>
              <td className="health-description">{r.healthDescription}</td>
              <td className="small muted">{when(r.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
