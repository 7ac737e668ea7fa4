import { useState, type ReactNode } from "react";
import type { ApplicationJson } from "@pipecd-ts/proto";
import type { ResponseOf } from "@pipecd-ts/rest-api";
import { call, useApi, useLive, type Loaded } from "../api.js";
import {
  ConfigWarnings,
  ConfirmButton,
  SyncButton,
  Empty,
  ErrorBox,
  Listing,
  Loading,
  Notice,
  Status,
} from "../components/common.js";
import { ChainBadge } from "../components/DeploymentChain.js";
import { DriftDiff } from "../components/DriftDiff.js";
import { ResourceTree } from "../components/ResourceTree.js";
import { appSyncStatus, duration, firstLine, ms, shortHash, statusLabel, when } from "../format.js";
import { Link } from "../router.js";
import { useCan } from "../session.js";
import { triggerText } from "./Deployments.js";

/** Deployments shown in the history; older ones are on the deployments page. */
const HISTORY = 10;
const COMPLETED = ["DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILURE", "DEPLOYMENT_CANCELLED"];

/**
 * One application: who deploys it from where, its sync status with PipeCD's drift diff, its
 * health and the live resource tree (refreshed by the piped's live-state reports over the event
 * stream), the pipeline its config defines, its recent deployments, Sync and Cancel (editor+).
 */
export function ApplicationDetailsPage(props: { id: string }): ReactNode {
  const { id } = props;
  const res = useApi("getApplication", { params: { id } }, id);
  const live = useApi("getApplicationLiveState", { params: { id } }, `live|${id}`);
  const deps = useApi(
    "listDeployments",
    { query: { applicationId: id, limit: HISTORY } },
    `deployments|${id}`,
  );
  const pipeds = useApi("listPipeds", undefined, "pipeds");
  // The control plane sends "live-state" when the piped reports a change of the tree and
  // "application" when the sync state or health changes: either may change both views.
  useLive(
    (ev) => ev.applicationId === id && (ev.type === "live-state" || ev.type === "application"),
    () => {
      res.reload();
      live.reload();
    },
  );
  useLive((ev) => ev.type === "deployment" && ev.applicationId === id, deps.reload);

  const a = res.data?.application;
  if (res.error && !a)
    return (
      <section>
        <h1>Application</h1>
        <ErrorBox error={res.error} />
        <Link to="/applications">All applications</Link>
      </section>
    );
  if (!a) return <Loading what="the application" />;
  const pipedName = pipeds.data?.pipeds.find((p) => p.id === a.pipedId)?.name ?? a.pipedId;
  return (
    <section className="details">
      <Header app={a} pipedName={pipedName ?? "—"} />
      <ErrorBox error={res.error} />
      <ConfigWarnings
        warnings={a.configWarnings}
        title={`config warnings at ${shortHash(a.configCommitHash)}`}
      />
      <Drift app={a} />
      <section className="panel" aria-label="live state">
        <h2>
          Live state
          {live.data && (
            <span className="muted small"> · reported {when(live.data.liveState.updatedAt)}</span>
          )}
        </h2>
        {live.errorStatus === 404 ? (
          <Empty>
            No live state yet: the piped {pipedName} reports what runs in the cluster once it
            watches this application (after its first deployment).
          </Empty>
        ) : (
          <>
            <ErrorBox error={live.error} />
            {live.data === undefined && !live.error && <Loading what="the live state" />}
            {live.data &&
              ((live.data.liveState.kubernetesResources ?? []).length === 0 ? (
                <Empty>The piped reports no resources of this application in the cluster.</Empty>
              ) : (
                <ResourceTree resources={live.data.liveState.kubernetesResources ?? []} />
              ))}
          </>
        )}
      </section>
      <ConfigPipeline app={a} />
      <section className="panel" aria-label="deployment history">
        <h2>
          Deployments{" "}
          <Link to={`/deployments?applicationId=${encodeURIComponent(id)}`}>
            <span className="small">all</span>
          </Link>
        </h2>
        <History state={deps} />
      </section>
    </section>
  );
}

/** Name, piped, Git path, labels; sync and health badges with their reasons; Sync (editor+). */
function Header(props: { app: ApplicationJson; pipedName: string }): ReactNode {
  const { app: a } = props;
  const canSync = useCan("editor");
  const [commandId, setCommandId] = useState<string>();
  const command = useApi(
    "getCommand",
    { params: { id: commandId ?? "" } },
    commandId ? `command|${commandId}` : null,
  );
  useLive((ev) => ev.type === "command" && ev.id === commandId, command.reload);
  const repo = a.gitPath?.repo;
  const labels = Object.entries(a.labels ?? {});
  const handled = command.data?.command.status;
  return (
    <>
      <div className="details-head">
        <div>
          <div className="muted small">
            <Link to="/applications">Applications</Link> / {a.name}
          </div>
          <h1>
            {a.name}
            {a.disabled && <span className="tag">disabled</span>}
          </h1>
          <div className="app-states">
            <div data-testid="app-sync">
              <span className="state-label">Sync</span>{" "}
              <Status status={appSyncStatus(a)} title={a.syncState?.shortReason} />
              {a.syncState?.shortReason && (
                <span className="small reason"> {a.syncState.shortReason}</span>
              )}
            </div>
            <div data-testid="app-health">
              <span className="state-label">Health</span>{" "}
              <Status status={a.healthStatus ?? "UNKNOWN"} />
              {a.healthDescription && <span className="small"> {a.healthDescription}</span>}
            </div>
          </div>
        </div>
        <dl className="facts">
          <dt>Piped</dt>
          <dd data-testid="app-piped">{props.pipedName}</dd>
          <dt>Repository</dt>
          <dd>
            <code>{repo?.id}</code>
            {repo?.remote && <span className="muted small"> {repo.remote}</span>}
            {repo?.branch && <span className="muted small"> ({repo.branch})</span>}
          </dd>
          <dt>Path</dt>
          <dd>
            <code>
              {a.gitPath?.path}/{a.gitPath?.configFilename || "app.pipecd.yaml"}
            </code>
          </dd>
          <dt>Labels</dt>
          <dd>
            {labels.length === 0
              ? "—"
              : labels.map(([k, v]) => (
                  <span key={k} className="tag">
                    {k}={v}
                  </span>
                ))}
          </dd>
          <dt>Checked</dt>
          <dd>{when(a.syncState?.timestamp)}</dd>
        </dl>
      </div>
      {canSync && (
        <div className="actions toolbar">
          <SyncButton app={a} onAccepted={setCommandId} />
        </div>
      )}
      <Notice
        testId="sync-notice"
        text={
          commandId &&
          `Sync accepted (command ${commandId})${handled ? `: ${statusLabel(handled).toLowerCase()}` : ""}.`
        }
      />
    </>
  );
}

/** PipeCD's drift diff while OUT_OF_SYNC, the config error while INVALID_CONFIG; else nothing. */
function Drift(props: { app: ApplicationJson }): ReactNode {
  const st = props.app.syncState;
  if (!st?.reason || (st.status !== "OUT_OF_SYNC" && st.status !== "INVALID_CONFIG")) return null;
  const drift = st.status === "OUT_OF_SYNC";
  return (
    <section className="panel" aria-label={drift ? "drift" : "invalid config"}>
      <h2>{drift ? "Drift" : "Invalid config"}</h2>
      {st.shortReason && <p className="status-reason">{st.shortReason}</p>}
      {drift && (
        <p className="muted small">
          <span className="diff-del">-</span> runs in the cluster,{" "}
          <span className="diff-add">+</span> defined in Git.
        </p>
      )}
      <DriftDiff text={st.reason} label={drift ? "drift diff" : "config error"} />
    </section>
  );
}

/** The stages of the pipeline the app config defines in Git; "quick sync only" without one. */
function ConfigPipeline(props: { app: ApplicationJson }): ReactNode {
  const stages = props.app.configStages ?? [];
  return (
    <section className="panel" aria-label="pipeline stages">
      <h2>Pipeline</h2>
      {stages.length === 0 ? (
        <p className="muted" data-testid="quick-sync-only">
          Quick sync only: the app config defines no pipeline, so every deployment applies all
          manifests at once (K8S_SYNC).
        </p>
      ) : (
        <ol className="pipeline config-stages">
          {stages.map((s, i) => (
            <li key={s.id || i} className="stage" data-stage={s.name} data-stage-id={s.id}>
              <span className="stage-name">{s.name}</span>
              {s.desc && <div className="small muted">{s.desc}</div>}
              <div className="small muted">
                <code>{s.id}</code>
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/**
 * The app's recent deployments, newest first, each with Cancel while it runs (editor+); a
 * deployment of a chain links to the one that started the chain.
 */
function History(props: { state: Loaded<ResponseOf<"listDeployments">> }): ReactNode {
  const { state } = props;
  const canCancel = useCan("editor");
  const [notice, setNotice] = useState<string>();
  const list = state.data?.deployments ?? [];
  const now = Date.now();
  return (
    <>
      <Notice text={notice} />
      <Listing
        state={state}
        count={list.length}
        what="deployments"
        empty="Not deployed yet: the piped deploys it after the next commit or a Sync."
        head={
          <>
            <th>Status</th>
            <th>Deployment</th>
            <th>Trigger</th>
            <th>Started</th>
            <th>Duration</th>
            {canCancel && <th aria-label="actions" />}
          </>
        }
      >
        {list.map((d) => {
          const started = ms(d.createdAt);
          const finished = ms(d.completedAt);
          const c = d.trigger?.commit;
          const running = !COMPLETED.includes(d.status ?? "");
          return (
            <tr key={d.id} data-deployment={d.id} data-status={d.status}>
              <td>
                <Status status={d.status} title={d.statusReason} />
              </td>
              <td>
                <Link to={`/deployments/${encodeURIComponent(d.id ?? "")}`}>
                  {shortHash(c?.hash)} {firstLine(c?.message)}
                </Link>
                {d.summary && <div className="muted small">{d.summary}</div>}
              </td>
              <td>
                <code className="small">{d.trigger?.kind ?? "ON_COMMIT"}</code>
                <ChainBadge deployment={d} />
                <div className="muted small">{triggerText(d)}</div>
              </td>
              <td>{when(d.createdAt)}</td>
              <td>
                {started === undefined
                  ? "—"
                  : duration((finished ?? now) - started) + (finished ? "" : "…")}
              </td>
              {canCancel && (
                <td>
                  {running && (
                    <ConfirmButton
                      label="Cancel"
                      danger
                      question="Cancel this deployment and roll back to the last good state? (The deployment's page also offers to cancel without rollback.)"
                      onConfirm={async () => {
                        const r = await call("cancelDeployment", {
                          params: { id: d.id ?? "" },
                          body: { rollback: true },
                        });
                        setNotice(`Cancel requested (command ${r.commandId}); it rolls back.`);
                      }}
                    />
                  )}
                </td>
              )}
            </tr>
          );
        })}
      </Listing>
    </>
  );
}
