import { useId, type ReactNode } from "react";
import type { ChainBlockJson, ChainNodeJson, DeploymentJson } from "@pipecd-ts/proto";
import { useApi, useLive } from "../api.js";
import { ms, when } from "../format.js";
import { Link } from "../router.js";
import { ErrorBox, Loading, Status } from "./common.js";

// The deployment chain (PipeCD's postSync.chain) a deployment belongs to, as the web UI shows it:
// on the deployment page (the blocks in order) and as a badge in an application's history.

const DEPLOYMENT_DONE = ["DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILURE", "DEPLOYMENT_CANCELLED"];

/** "pending", "running", "success", "failure", "cancelled": the class suffix of a chain status. */
function chainTone(status: string | undefined): string {
  return (status ?? "DEPLOYMENT_CHAIN_PENDING").replace(/^DEPLOYMENT_CHAIN_/, "").toLowerCase();
}

/** The path of a deployment's page. */
const deploymentPath = (id: string): string => `/deployments/${encodeURIComponent(id)}`;

/**
 * The chain `chainId` that the deployment `current` belongs to: its status and why it ended, then
 * its blocks in order (a row, a column on narrow screens), each with its status and applications;
 * an application links to its deployment, or says "not started". Live: reloads on "chain" events
 * of the chain and on "deployment" events of its applications.
 */
export function DeploymentChain(props: { chainId: string; current: DeploymentJson }): ReactNode {
  const { chainId, current } = props;
  const res = useApi("getDeploymentChain", { params: { id: chainId } }, `chain|${chainId}`);
  const chain = res.data?.chain;
  const apps = new Set(
    (chain?.blocks ?? []).flatMap((b) => (b.nodes ?? []).map((n) => n.applicationId)),
  );
  // The control plane records a node's deployment status only when it is created and when it
  // completes; a new deployment of a block is announced as a "deployment" event of its app.
  useLive(
    (ev) =>
      (ev.type === "chain" && ev.id === chainId) ||
      (ev.type === "deployment" && apps.has(ev.applicationId)),
    res.reload,
  );
  const blocks = chain?.blocks ?? [];
  const titleId = useId();
  return (
    <section className="panel chain" aria-labelledby={titleId}>
      <h2 id={titleId}>Deployment chain</h2>
      <ErrorBox error={res.error} />
      {!chain && !res.error && <Loading what="the deployment chain" />}
      {chain && (
        <>
          <div className="chain-summary" data-testid="chain-status">
            <Status status={chain.status} title={chain.statusReason} />
            {chain.statusReason && (
              <span
                className={`small ${chain.status === "DEPLOYMENT_CHAIN_SUCCESS" ? "muted" : "reason"}`}
                data-testid="chain-reason"
              >
                {chain.statusReason}
              </span>
            )}
            <span className="muted small">
              started {when(chain.createdAt)}
              {ms(chain.completedAt) === undefined ? "" : `, ended ${when(chain.completedAt)}`}
            </span>
          </div>
          <ol className="chain-blocks" aria-label="deployment chain">
            {blocks.map((b, i) => (
              <ChainBlock key={i} block={b} index={i} current={current} />
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

/** One block of the chain: its status and times, and its applications. */
function ChainBlock(props: {
  block: ChainBlockJson;
  index: number;
  current: DeploymentJson;
}): ReactNode {
  const { block: b, index: i } = props;
  const nodes = b.nodes ?? [];
  return (
    <li
      className={`chain-block chain-${chainTone(b.status)}`}
      aria-label={`block ${i}`}
      data-status={b.status}
    >
      <div className="chain-block-head">
        <span className="stage-name">Block {i}</span>
        <Status status={b.status} />
      </div>
      <div className="small muted">
        {i === 0
          ? "started the chain"
          : b.status === "DEPLOYMENT_CHAIN_PENDING"
            ? "waits for the block before"
            : `started ${when(b.startedAt)}`}
      </div>
      <ul className="chain-nodes" aria-label={`applications of block ${i}`}>
        {nodes.map((n) => (
          <ChainNode key={n.applicationId} node={n} current={props.current} />
        ))}
      </ul>
    </li>
  );
}

/**
 * One application of a block. Its deployment's status comes from the deployment itself while the
 * chain has not recorded it as completed (the chain records only creation and completion).
 */
function ChainNode(props: { node: ChainNodeJson; current: DeploymentJson }): ReactNode {
  const { node: n, current } = props;
  const id = n.deploymentId ?? "";
  const isCurrent = id !== "" && id === current.id;
  const recordedDone = DEPLOYMENT_DONE.includes(n.deploymentStatus ?? "");
  const watch = id !== "" && !isCurrent && !recordedDone;
  const dep = useApi("getDeployment", { params: { id } }, watch ? `chain-node|${id}` : null);
  useLive((ev) => watch && ev.type === "deployment" && ev.deploymentId === id, dep.reload);
  const status = recordedDone
    ? n.deploymentStatus
    : isCurrent
      ? current.status
      : (dep.data?.deployment.status ?? n.deploymentStatus);
  return (
    <li
      className={`chain-node${isCurrent ? " current" : ""}`}
      data-app={n.applicationName}
      data-deployment={id || undefined}
      data-status={id ? status : "NOT_STARTED"}
      aria-current={isCurrent ? "true" : undefined}
    >
      {id ? (
        <Link to={deploymentPath(id)}>{n.applicationName}</Link>
      ) : (
        <span className="chain-app">{n.applicationName}</span>
      )}{" "}
      {id ? <Status status={status} /> : <span className="muted small">not started</span>}
      {isCurrent && <span className="muted small"> (this deployment)</span>}
    </li>
  );
}

/**
 * A "chain" badge for a deployment of a chain, linking to the deployment that started the chain
 * (block 0: the deployment itself); nothing for a deployment outside a chain.
 */
export function ChainBadge(props: { deployment: DeploymentJson }): ReactNode {
  const d = props.deployment;
  const chainId = d.deploymentChainId ?? "";
  const first = (d.deploymentChainBlockIndex ?? 0) === 0;
  const res = useApi(
    "getDeploymentChain",
    { params: { id: chainId } },
    chainId && !first ? `chain|${chainId}` : null,
  );
  if (!chainId) return null;
  const firstId = first ? d.id : res.data?.chain.blocks?.[0]?.nodes?.[0]?.deploymentId;
  const label = first ? "chain: started here" : `chain: block ${d.deploymentChainBlockIndex ?? 0}`;
  return firstId ? (
    <Link to={deploymentPath(firstId)} className="tag chain-tag">
      {label}
    </Link>
  ) : (
    <span className="tag chain-tag">{label}</span>
  );
}
