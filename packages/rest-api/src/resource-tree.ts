/** The fields of a live resource that place it in the tree (the REST JSON of a resource state). */
export interface TreeResource {
  id?: string;
  ownerIds?: string[];
  kind?: string;
  namespace?: string;
  name?: string;
}

/** One line of a resource tree: the resource and how many owners deep it sits. */
export interface TreeRow<R extends TreeResource> {
  depth: number;
  resource: R;
}

// Kinds in the order a reader expects them among siblings, workloads first then what they own.
// The web UI and pipectl both draw the tree with this, so they read alike.
const KIND_ORDER = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"];
const kindRank = (k: string | undefined): number => {
  const i = KIND_ORDER.indexOf(k ?? "");
  return i < 0 ? KIND_ORDER.length : i;
};
const bySiblingOrder = (a: TreeResource, b: TreeResource): number =>
  kindRank(a.kind) - kindRank(b.kind) ||
  (a.kind ?? "").localeCompare(b.kind ?? "") ||
  (a.namespace ?? "").localeCompare(b.namespace ?? "") ||
  (a.name ?? "").localeCompare(b.name ?? "");

/**
 * An application's live resources in tree order, as PipeCD's application page draws them: each
 * resource under its owner (Deployment → ReplicaSet → Pod); siblings workloads first, then by
 * kind, namespace and name. A resource whose owners were not reported is a root; one with several
 * owners appears once, under the first reported one; one caught in an owner cycle still appears.
 */
export function resourceTree<R extends TreeResource>(resources: readonly R[]): TreeRow<R>[] {
  const ids = new Set(resources.map((r) => r.id ?? ""));
  const children = new Map<string, R[]>();
  const roots: R[] = [];
  for (const r of resources) {
    const owner = (r.ownerIds ?? []).find((o) => o !== r.id && ids.has(o));
    if (owner === undefined) roots.push(r);
    else children.set(owner, [...(children.get(owner) ?? []), r]);
  }
  const rows: TreeRow<R>[] = [];
  const seen = new Set<R>();
  const visit = (r: R, depth: number): void => {
    if (seen.has(r)) return;
    seen.add(r);
    rows.push({ depth, resource: r });
    for (const c of [...(children.get(r.id ?? "") ?? [])].sort(bySiblingOrder)) visit(c, depth + 1);
  };
  for (const r of [...roots].sort(bySiblingOrder)) visit(r, 0);
  // Owners that own each other (not from Kubernetes, but a report may say so): show them anyway.
  for (const r of [...resources].sort(bySiblingOrder)) visit(r, 0);
  return rows;
}
