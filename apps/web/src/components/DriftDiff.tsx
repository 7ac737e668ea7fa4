import type { ReactNode } from "react";

/** How one line of PipeCD's drift text is drawn. */
function lineClass(line: string): string {
  // "--- Actual (LiveState)" / "+++ Expected (Git)" head the diff, "# 1. name=…" names a
  // manifest, an indented "#spec.replicas" the changed field; "-"/"+" in the first column mark
  // the two sides (an indented "-" is a list item of the context).
  if (line.startsWith("---") || line.startsWith("+++")) return "diff-head";
  if (line.startsWith("-")) return "diff-del";
  if (line.startsWith("+")) return "diff-add";
  if (line.startsWith("#")) return "diff-manifest";
  if (line.trimStart().startsWith("#")) return "diff-path";
  return "diff-ctx";
}

/**
 * PipeCD's multi-line drift text (the sync state's `reason`: "Diff between the defined state in
 * Git at commit … and actual state in cluster", then per manifest the changed fields with `-` for
 * what runs in the cluster and `+` for what Git defines) in a monospace block, those lines
 * coloured. Also shows other multi-line reasons (an INVALID_CONFIG error) as they are.
 */
export function DriftDiff(props: { text: string; label: string }): ReactNode {
  const lines = props.text.replace(/\n+$/, "").split("\n");
  return (
    <figure className="diff-figure" aria-label={props.label}>
      <pre className="diff" data-testid="drift-diff">
        {lines.map((l, i) => (
          <div key={i} className={lineClass(l)}>
            {l || " "}
          </div>
        ))}
      </pre>
    </figure>
  );
}
