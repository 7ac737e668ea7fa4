import { useEffect, useRef, useState, type ReactNode } from "react";
import { formatConfigWarning, type ConfigWarningLike } from "@pipecd-ts/rest-api";
import type { Loaded } from "../api.js";
import { call, errorMessage } from "../api.js";
import { statusLabel, statusTone } from "../format.js";

/** A coloured status pill ("RUNNING", "SYNCED", …). */
export function Status(props: { status: string | undefined; title?: string }): ReactNode {
  return (
    <span
      className={`status status-${statusTone(props.status)}`}
      title={props.title}
      data-status={props.status}
    >
      {statusLabel(props.status)}
    </span>
  );
}

/**
 * Config warnings (keys ignored as PipeCD ignores them, fields with no effect yet), folded to
 * one line until opened; nothing when there are none.
 */
export function ConfigWarnings(props: {
  warnings: readonly ConfigWarningLike[] | undefined;
  title: string;
  open?: boolean;
}): ReactNode {
  const ws = props.warnings ?? [];
  if (ws.length === 0) return null;
  return (
    <details className="config-warnings" open={props.open} aria-label="config warnings">
      <summary>
        ⚠ {ws.length} {props.title}
      </summary>
      <ul>
        {ws.map((w, i) => (
          <li key={i}>
            <code>{formatConfigWarning(w)}</code>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** A readable API error. */
export function ErrorBox(props: { error: string | undefined }): ReactNode {
  if (!props.error) return null;
  return (
    <div className="error" role="alert">
      {props.error}
    </div>
  );
}

/** What the user's last action did ("Sync requested …"); nothing without a text. */
export function Notice(props: { text: string | undefined; testId?: string }): ReactNode {
  if (!props.text) return null;
  return (
    <p className="notice" role="status" data-testid={props.testId}>
      {props.text}
    </p>
  );
}

/** The spinner-free loading line. */
export function Loading(props: { what: string }): ReactNode {
  return (
    <p className="muted" aria-busy="true">
      Loading {props.what}…
    </p>
  );
}

/** What a list shows when it has nothing. */
export function Empty(props: { children: ReactNode }): ReactNode {
  return <p className="empty">{props.children}</p>;
}

/** Props of {@link ConfirmButton}. */
export interface ConfirmButtonProps {
  label: string;
  /** Question shown in the dialog. */
  question: string;
  confirmLabel?: string;
  danger?: boolean;
  /** Asks for a free-text reason (sent to `onConfirm`). */
  reason?: { label: string; required?: boolean };
  /** Runs the action; a thrown error (e.g. a refused API call) is shown in the dialog. */
  onConfirm: (reason: string) => Promise<void>;
  disabled?: boolean;
}

/** A button that asks for confirmation (and optionally a reason) in a modal dialog. */
export function ConfirmButton(p: ConfirmButtonProps): ReactNode {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string>();
  const [reason, setReason] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setErr(undefined);
    try {
      await p.onConfirm(reason.trim());
      setOpen(false);
      setReason("");
    } catch (e) {
      setErr(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className={p.danger ? "danger" : undefined}
        disabled={p.disabled}
        onClick={() => {
          setErr(undefined);
          setOpen(true);
        }}
      >
        {p.label}
      </button>
      <dialog ref={dialog} onClose={() => setOpen(false)} aria-label={p.label}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <p>{p.question}</p>
          {p.reason && (
            <label>
              {p.reason.label}
              <textarea
                value={reason}
                required={p.reason.required}
                maxLength={2000}
                onChange={(e) => setReason(e.target.value)}
              />
            </label>
          )}
          {err && (
            <div className="error" role="alert">
              {err}
            </div>
          )}
          <div className="actions">
            <button type="button" onClick={() => setOpen(false)} disabled={busy}>
              Back
            </button>
            <button type="submit" className={p.danger ? "danger" : "primary"} disabled={busy}>
              {busy ? "Working…" : (p.confirmLabel ?? p.label)}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/**
 * A secret shown exactly once (piped key, API key) with a copy button and a warning; it lives
 * only in this component's state and is gone when the user dismisses it.
 */
export function SecretOnce(props: {
  title: string;
  secret: string;
  onDone: () => void;
}): ReactNode {
  const [copied, setCopied] = useState<string>();
  return (
    <div className="secret" role="status">
      <strong>{props.title}</strong>
      <p className="warning">
        Copy it now: it is shown only once and cannot be displayed again. Store it in a secret
        manager; never commit it.
      </p>
      <code className="secret-value" data-testid="secret">
        {props.secret}
      </code>
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            // navigator.clipboard is undefined outside a secure context (plain http to a
            // non-loopback host): then, like a refused write, the user copies by hand.
            const copy = async (): Promise<void> => {
              try {
                await navigator.clipboard.writeText(props.secret);
                setCopied("Copied.");
              } catch {
                setCopied("Copy failed: select the text and copy it by hand.");
              }
            };
            void copy();
          }}
        >
          Copy
        </button>
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
        {copied && <span className="muted">{copied}</span>}
      </div>
    </div>
  );
}

/**
 * Cursor paging for a list: `cursor` to pass to the list call, and `pager(nextCursor)` for the
 * "Newer" / "Older" buttons. Changing `resetKey` (the filters) goes back to the first page.
 */
export function useCursorPages(resetKey: string): {
  cursor: string;
  pager: (next: string | undefined) => ReactNode;
} {
  const [state, setState] = useState({ key: resetKey, cursors: [""] });
  const cursors = state.key === resetKey ? state.cursors : [""];
  const go = (next: string[]): void => setState({ key: resetKey, cursors: next });
  return {
    cursor: cursors[cursors.length - 1] ?? "",
    pager: (next) =>
      cursors.length > 1 || next ? (
        <nav className="pager" aria-label="pages">
          <button
            type="button"
            disabled={cursors.length < 2}
            onClick={() => go(cursors.slice(0, -1))}
          >
            ← Newer
          </button>
          <button type="button" disabled={!next} onClick={() => go([...cursors, next ?? ""])}>
            Older →
          </button>
        </nav>
      ) : null,
  };
}

/**
 * A listing's states in one place: the error, "Loading…", the empty message, or the table with
 * `head` (the header cells) and `children` (the rows) in a horizontally scrolling box.
 */
export function Listing(props: {
  state: Pick<Loaded<unknown>, "data" | "error">;
  count: number;
  what: string;
  empty: ReactNode;
  head: ReactNode;
  children: ReactNode;
}): ReactNode {
  const { state } = props;
  return (
    <>
      <ErrorBox error={state.error} />
      {state.data === undefined && !state.error && <Loading what={props.what} />}
      {state.data !== undefined && props.count === 0 && <Empty>{props.empty}</Empty>}
      {props.count > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>{props.head}</tr>
            </thead>
            <tbody>{props.children}</tbody>
          </table>
        </div>
      )}
    </>
  );
}

/**
 * Sync an application from the head of its Git branch (strategy AUTO), with confirmation; tells
 * `onAccepted` the id of the command the piped will act on.
 */
export function SyncButton(p: {
  app: { id?: string; name?: string; disabled?: boolean };
  onAccepted: (commandId: string) => void;
}): ReactNode {
  return (
    <ConfirmButton
      label="Sync"
      question={`Deploy ${p.app.name ?? ""} from the head of its Git branch now?`}
      disabled={p.app.disabled}
      onConfirm={async () => {
        const r = await call("syncApplication", {
          params: { id: p.app.id ?? "" },
          body: { strategy: "AUTO" },
        });
        p.onAccepted(r.commandId);
      }}
    />
  );
}
