import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import type { DeploymentJson, LogBlockJson, PipelineStageJson } from "@pipecd-ts/proto";
import { call, errorMessage, useApi, useLive } from "../api.js";
import { AnalysisCharts } from "../components/AnalysisCharts.js";
import { ConfigWarnings, ConfirmButton, ErrorBox, Loading, Status } from "../components/common.js";
import { DeploymentChain } from "../components/DeploymentChain.js";
import { duration, ms, shortHash, when } from "../format.js";
import { Link } from "../router.js";
import { useCan, useUser } from "../session.js";
import { triggerText } from "./Deployments.js";

// Stage metadata keys written by the piped (PipeCD's names): K8S_TRAFFIC_ROUTING records its
// split (plugin-kubernetes TrafficMetadataKey), WAIT_APPROVAL its approvers and approvals
// (model METADATA_APPROVERS / METADATA_APPROVED_BY).
const PRIMARY = "primary-percentage";
const CANARY = "canary-percentage";
const BASELINE = "baseline-percentage";
const APPROVERS = "Approvers";
const APPROVED_BY = "ApprovedBy";
// How many approvals the stage needs: a metadata key if the planner records it, else the count
// in the first line WAIT_APPROVAL logs ("Waiting for approval from at least N user(s)...").
const MIN_APPROVERS = "MinApproverNum";
const MIN_APPROVERS_LOG = /approval from at least (\d+) user/;

/** The two Cancel buttons (PipeCD's "Cancel" and "Cancel without rollback"). */
const CANCELS = [
  {
    rollback: true,
    label: "Cancel with rollback",
    question: "Cancel this deployment and roll back to the last good state?",
    notice: "Cancel requested; the deployment rolls back.",
  },
  {
    rollback: false,
    label: "Cancel without rollback",
    question: "Cancel this deployment and leave the cluster as it is now (no rollback)?",
    notice: "Cancel requested; the cluster is left as it is.",
  },
] as const;

const COMPLETED = ["DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILURE", "DEPLOYMENT_CANCELLED"];
const STAGE_DONE = ["STAGE_SUCCESS", "STAGE_FAILURE", "STAGE_CANCELLED", "STAGE_SKIPPED"];

function list(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Stages the pipeline shows: visible ones, plus the hidden Rollback once it has started. */
function shownStages(d: DeploymentJson): PipelineStageJson[] {
  return (d.stages ?? []).filter(
    (s) => s.visible || (s.status !== undefined && s.status !== "STAGE_NOT_STARTED_YET"),
  );
}

/**
 * Durations: the piped records when a stage completed and when its status last changed, not when
 * it started; stages run one after another, so a stage starts when the previous one completed
 * (the first when the deployment was planned).
 */
function stageTimes(d: DeploymentJson, s: PipelineStageJson): { start?: number; end?: number } {
  const all = d.stages ?? [];
  const i = all.indexOf(s);
  const done = STAGE_DONE.includes(s.status ?? "");
  let start: number | undefined;
  for (let j = i - 1; j >= 0 && start === undefined; j--) {
    const prev = all[j];
    if (prev && prev.status !== "STAGE_NOT_STARTED_YET") start = ms(prev.completedAt);
  }
  if (start === undefined && s.status === "STAGE_RUNNING") start = ms(s.updatedAt);
  start ??= ms(d.createdAt);
  return { start, end: done ? (ms(s.completedAt) ?? ms(s.updatedAt)) : undefined };
}

/** The split of a traffic-routing stage as a bar; nothing before the stage recorded it. */
function TrafficBar(props: { stage: PipelineStageJson }): ReactNode {
  const md = props.stage.metadata ?? {};
  if (md[PRIMARY] === undefined) return null;
  const parts = [
    ["primary", Number(md[PRIMARY] ?? 0)],
    ["canary", Number(md[CANARY] ?? 0)],
    ["baseline", Number(md[BASELINE] ?? 0)],
  ] as const;
  const label = parts
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}%`)
    .join(" / ");
  return (
    <div className="traffic" role="img" aria-label={`traffic split: ${label}`} data-split={label}>
      <div className="traffic-bar">
        {parts
          .filter(([, v]) => v > 0)
          .map(([k, v]) => (
            <span key={k} className={`seg seg-${k}`} style={{ flexGrow: v }} />
          ))}
      </div>
      <div className="traffic-legend">{label}</div>
    </div>
  );
}

/**
 * Live logs of one stage attempt: fetched incrementally (`afterIndex`) on every stage event and
 * every second while the stage runs. One request at a time: a poll tick while a request is in
 * flight is skipped (so a slow fetch completes instead of being aborted each tick), an event
 * meanwhile fetches once more when it returns; only a change of stage drops the old request.
 */
function StageLogs(props: {
  deploymentId: string;
  stage: PipelineStageJson;
  version: number;
}): ReactNode {
  const { deploymentId, stage } = props;
  const [blocks, setBlocks] = useState<LogBlockJson[]>([]);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState(false);
  const last = useRef(-1);
  const stageKey = `${deploymentId}/${stage.id ?? ""}/${stage.retriedCount ?? 0}`;
  const running = stage.status === "STAGE_RUNNING";
  const target = useRef({ key: stageKey, id: deploymentId, stageId: "", retried: 0 });
  target.current = {
    key: stageKey,
    id: deploymentId,
    stageId: stage.id ?? "",
    retried: stage.retriedCount ?? 0,
  };
  const inFlight = useRef<AbortController>(undefined);
  const again = useRef(false);

  const load = useCallback((mustSee: boolean): void => {
    if (inFlight.current) {
      if (mustSee) again.current = true;
      return;
    }
    const t = target.current;
    const ctl = new AbortController();
    inFlight.current = ctl;
    call(
      "getStageLogs",
      {
        params: { id: t.id, stageId: t.stageId },
        query: { retriedCount: t.retried, afterIndex: last.current },
      },
      ctl.signal,
    )
      .then(
        (r) => {
          if (ctl.signal.aborted) return;
          const fresh = r.blocks.filter((b) => Number(b.index ?? -1) > last.current);
          if (fresh.length) {
            last.current = Math.max(...fresh.map((b) => Number(b.index ?? -1)));
            setBlocks((old) => [...old, ...fresh]);
          }
          setDone(r.completed);
          setError(undefined);
          // A long log comes a page at a time: ask for the next one at once.
          if (r.more && fresh.length) again.current = true;
        },
        (err: unknown) => {
          if (!ctl.signal.aborted) setError(errorMessage(err));
        },
      )
      .finally(() => {
        if (inFlight.current !== ctl) return;
        inFlight.current = undefined;
        if (again.current) {
          again.current = false;
          load(true);
        }
      });
  }, []);

  // A new stage (or attempt): start over, dropping a request for the old one.
  useEffect(() => {
    last.current = -1;
    setBlocks([]);
    setDone(false);
    setError(undefined);
    load(true);
    return () => {
      inFlight.current?.abort();
      inFlight.current = undefined;
      again.current = false;
    };
  }, [stageKey, load]);
  // A stream event about the deployment: fetch what is new.
  const seenVersion = useRef(props.version);
  useEffect(() => {
    if (seenVersion.current === props.version) return;
    seenVersion.current = props.version;
    load(true);
  }, [props.version, load]);
  // Log lines carry no stream event of their own: poll every second while the stage runs.
  useEffect(() => {
    if (!running || done) return;
    const t = setInterval(() => load(false), 1000);
    return () => clearInterval(t);
  }, [running, done, load]);
  return (
    <section className="logs" aria-label={`logs of ${stage.name ?? ""}`}>
      <h2>
        Logs · {stage.name}
        {(stage.retriedCount ?? 0) > 0 ? ` (attempt ${(stage.retriedCount ?? 0) + 1})` : ""}
      </h2>
      <ErrorBox error={error} />
      {blocks.length === 0 && !error ? (
        <p className="muted">
          {stage.status === "STAGE_NOT_STARTED_YET" ? "Not started yet." : "No log lines yet."}
        </p>
      ) : (
        <pre className="log" data-testid="stage-log">
          {blocks.map((b) => (
            <div key={b.index} className={`log-${(b.severity ?? "INFO").toLowerCase()}`}>
              <span className="log-time">{when(b.createdAt).slice(11)}</span> {b.log}
            </div>
          ))}
        </pre>
      )}
    </section>
  );
}

/** Approvers, approvals and the Approve / Reject buttons of a WAIT_APPROVAL stage. */
function Approval(props: { d: DeploymentJson; stage: PipelineStageJson }): ReactNode {
  const { d, stage } = props;
  const user = useUser();
  const canAct = useCan("editor");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const approvers = stage.authorizedOperators?.length
    ? stage.authorizedOperators
    : list(stage.metadata?.[APPROVERS]);
  const approved = list(stage.metadata?.[APPROVED_BY]);
  const running = stage.status === "STAGE_RUNNING";
  const listed = approvers.length === 0 || approvers.includes(user.username);
  const mine = approved.includes(user.username);
  const params = { id: d.id ?? "", stageId: stage.id ?? "" };
  const recordedMin = Number(stage.metadata?.[MIN_APPROVERS] ?? NaN);
  const firstLogs = useApi(
    "getStageLogs",
    { params, query: { retriedCount: stage.retriedCount ?? 0, afterIndex: -1 } },
    running && mine && !(recordedMin > 0) ? `${params.id}/${params.stageId}/min` : null,
  );
  const loggedMin = Number(
    firstLogs.data?.blocks
      .map((b) => MIN_APPROVERS_LOG.exec(b.log ?? "")?.[1])
      .find((m) => m !== undefined) ?? NaN,
  );
  const min = recordedMin > 0 ? recordedMin : loggedMin > 0 ? loggedMin : undefined;
  // Still running after our approval: at least one more is needed whatever the count says.
  const more = min === undefined ? undefined : Math.max(1, min - approved.length);
  const approve = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await call("approveStage", { params });
      setNotice("Approval sent.");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="approval" data-testid="approval">
      <div>
        <strong>Who must approve: </strong>
        {approvers.length ? approvers.join(", ") : "any editor or admin"}
      </div>
      <div>
        <strong>Approved by: </strong>
        <span data-testid="approved-by">
          {approved.length ? approved.join(", ") : "nobody yet"}
        </span>
      </div>
      {running && mine && (
        <p className="notice" data-testid="you-approved">
          You approved; waiting for{" "}
          {more === undefined ? "more approvals" : `${more} more approver(s)`}.
        </p>
      )}
      {running && canAct && listed && (
        <div className="actions">
          {!mine && (
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={() => void approve()}
            >
              Approve
            </button>
          )}
          <ConfirmButton
            label="Reject"
            danger
            question="Reject this stage? It fails and the deployment rolls back."
            reason={{ label: "Reason (shown in the stage log and the audit log)" }}
            onConfirm={async (reason) => {
              await call("rejectStage", { params, body: reason ? { reason } : {} });
              setNotice("Rejection sent; the deployment rolls back.");
            }}
          />
        </div>
      )}
      {running && canAct && !listed && (
        <p className="muted">Only the listed approvers can approve this stage.</p>
      )}
      {running && !canAct && (
        <p className="muted">Your role ({user.role}) cannot approve; an editor or admin can.</p>
      )}
      {notice && !(running && mine) && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

/** One stage box of the pipeline graph. */
function StageBox(props: {
  d: DeploymentJson;
  stage: PipelineStageJson;
  selected: boolean;
  onSelect: () => void;
  now: number;
}): ReactNode {
  const { d, stage } = props;
  const { start, end } = stageTimes(d, stage);
  const ran = stage.status !== "STAGE_NOT_STARTED_YET";
  const took = ran && start !== undefined ? (end ?? props.now) - start : undefined;
  return (
    <li
      className={`stage stage-${(stage.status ?? "").toLowerCase()}${props.selected ? " selected" : ""}${stage.rollback ? " rollback" : ""}`}
      data-stage={stage.name}
      data-stage-id={stage.id}
      data-status={stage.status}
    >
      <button type="button" className="stage-head" onClick={props.onSelect}>
        <span className="stage-name">{stage.name}</span>
        <Status status={stage.status} />
      </button>
      {stage.desc && <div className="small muted">{stage.desc}</div>}
      <div className="small">{took === undefined ? "" : duration(took) + (end ? "" : "…")}</div>
      {stage.statusReason && (
        <div className={`small ${stage.status === "STAGE_FAILURE" ? "reason" : "muted"}`}>
          {stage.statusReason}
        </div>
      )}
      {stage.name === "K8S_TRAFFIC_ROUTING" && <TrafficBar stage={stage} />}
      {stage.name === "WAIT_APPROVAL" && <Approval d={d} stage={stage} />}
    </li>
  );
}

/**
 * Deployment details: header, the deployment chain it belongs to, the pipeline as connected
 * stages with live status, the traffic split, approvals, stage logs, Cancel and Skip. Updates
 * arrive over the event stream.
 */
export function DeploymentDetailsPage(props: { id: string }): ReactNode {
  const res = useApi("getDeployment", { params: { id: props.id } }, props.id);
  const [version, setVersion] = useState(0);
  useLive(
    (ev) => ev.deploymentId === props.id || ev.id === props.id,
    () => {
      res.reload();
      setVersion((v) => v + 1);
    },
  );
  const d = res.data?.deployment;
  const appId = d?.applicationId ?? "";
  const previous = useApi(
    "listDeployments",
    { query: { applicationId: appId, status: ["DEPLOYMENT_SUCCESS"], limit: 50 } },
    appId ? `prev|${appId}` : null,
  );
  const [selected, setSelected] = useState<string>();
  const [now, setNow] = useState(Date.now());
  const canAct = useCan("editor");
  const [notice, setNotice] = useState<string>();
  const completed = COMPLETED.includes(d?.status ?? "");
  useEffect(() => {
    if (completed) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [completed]);

  if (res.error && !d)
    return (
      <section>
        <h1>Deployment</h1>
        <ErrorBox error={res.error} />
        <Link to="/deployments">All deployments</Link>
      </section>
    );
  if (!d) return <Loading what="the deployment" />;
  const stages = shownStages(d);
  const active =
    stages.find((s) => s.status === "STAGE_RUNNING") ??
    [...stages].reverse().find((s) => s.status !== "STAGE_NOT_STARTED_YET") ??
    stages[0];
  const shown = stages.find((s) => s.id === selected) ?? active;
  const created = ms(d.createdAt);
  const prevOk = (previous.data?.deployments ?? []).find(
    (p) => p.id !== d.id && (ms(p.createdAt) ?? 0) < (created ?? 0),
  );
  const c = d.trigger?.commit;
  const changes = (d.versions ?? []).map((v) => {
    const before = prevOk?.versions?.find((p) => p.name === v.name)?.version;
    return `image ${v.name ?? ""} ${before && before !== v.version ? `${before} → ` : ""}${v.version ?? ""}`;
  });
  const running = stages.find((s) => s.status === "STAGE_RUNNING");
  return (
    <section className="details">
      <div className="details-head">
        <div>
          <div className="muted small">
            <Link to="/deployments">Deployments</Link> /{" "}
            <Link to={`/deployments?applicationId=${encodeURIComponent(appId)}`}>
              {d.applicationName}
            </Link>
          </div>
          <h1>
            {d.applicationName} <Status status={d.status} title={d.statusReason} />
          </h1>
          {changes.length > 0 && <p className="changes">{changes.join(", ")}</p>}
          <p className="summary">{d.summary}</p>
          {d.statusReason && (
            <p className={d.status === "DEPLOYMENT_SUCCESS" ? "muted" : "status-reason"}>
              {d.statusReason}
            </p>
          )}
        </div>
        <dl className="facts">
          <dt>Commit</dt>
          <dd>
            <code>{shortHash(c?.hash)}</code> {c?.message?.split("\n")[0]}
          </dd>
          <dt>Author</dt>
          <dd>{c?.author || "—"}</dd>
          <dt>Triggered</dt>
          <dd>{triggerText(d)}</dd>
          <dt>Started</dt>
          <dd>{when(d.createdAt)}</dd>
          <dt>Finished</dt>
          <dd>{when(d.completedAt)}</dd>
          <dt>Duration</dt>
          <dd>
            {created === undefined
              ? "—"
              : duration((ms(d.completedAt) ?? now) - created) + (completed ? "" : "…")}
          </dd>
        </dl>
      </div>
      {canAct && !completed && (
        <div className="actions toolbar">
          {CANCELS.map((c) => (
            <ConfirmButton
              key={c.label}
              label={c.label}
              danger
              question={c.question}
              onConfirm={async () => {
                await call("cancelDeployment", {
                  params: { id: d.id ?? "" },
                  body: { rollback: c.rollback },
                });
                setNotice(c.notice);
              }}
            />
          ))}
          {running && running.name !== "WAIT_APPROVAL" && !running.rollback && (
            <ConfirmButton
              label={`Skip ${running.name ?? ""}`}
              question={`Skip the running stage ${running.name ?? ""}? The pipeline continues with the next stage.`}
              onConfirm={async () => {
                await call("skipStage", {
                  params: { id: d.id ?? "", stageId: running.id ?? "" },
                });
                setNotice(`Skip of ${running.name ?? ""} requested.`);
              }}
            />
          )}
        </div>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={res.error} />
      <ConfigWarnings warnings={d.configWarnings} title="config warnings in the plan" open />
      {d.deploymentChainId && <DeploymentChain chainId={d.deploymentChainId} current={d} />}
      <ol className="pipeline" aria-label="pipeline">
        {stages.map((s) => (
          <StageBox
            key={s.id}
            d={d}
            stage={s}
            now={now}
            selected={s.id === shown?.id}
            onSelect={() => setSelected(s.id)}
          />
        ))}
      </ol>
      {shown?.name === "ANALYSIS" && <AnalysisCharts stage={shown} />}
      {shown && <StageLogs deploymentId={d.id ?? ""} stage={shown} version={version} />}
    </section>
  );
}
