import { useState, type ReactNode } from "react";
import { call, errorMessage, useApi, useLive } from "../api.js";
import { ConfirmButton, ErrorBox, Listing, SecretOnce, Status } from "../components/common.js";
import { when } from "../format.js";
import { useCan } from "../session.js";

/** Pipeds with online/offline, version, last seen; register, rotate key, enable/disable (admin). */
export function PipedsPage(): ReactNode {
  const pipeds = useApi("listPipeds", undefined, "pipeds");
  useLive((ev) => ev.type === "piped", pipeds.reload);
  const isAdmin = useCan("admin");
  const [secret, setSecret] = useState<{ title: string; key: string }>();
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  /** Runs an admin action and re-lists; ConfirmButton shows a refusal. */
  const act = async (fn: () => Promise<unknown>): Promise<void> => {
    await fn();
    pipeds.reload();
  };
  const register = async (): Promise<void> => {
    setError(undefined);
    try {
      const r = await call("registerPiped", { body: { name: name.trim() } });
      setSecret({ title: `Key of piped ${r.piped.name ?? ""} (id ${r.id})`, key: r.key });
      setName("");
      pipeds.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const list = pipeds.data?.pipeds ?? [];
  return (
    <section>
      <h1>Pipeds</h1>
      {isAdmin && (
        <form
          className="inline-form"
          aria-label="register a piped"
          onSubmit={(e) => {
            e.preventDefault();
            void register();
          }}
        >
          <label>
            New piped name
            <input
              value={name}
              required
              maxLength={128}
              onChange={(e) => setName(e.target.value)}
            />
          </label>
          <button type="submit" className="primary">
            Register
          </button>
        </form>
      )}
      <ErrorBox error={error} />
      {secret && (
        <SecretOnce title={secret.title} secret={secret.key} onDone={() => setSecret(undefined)} />
      )}
      <Listing
        state={pipeds}
        count={list.length}
        what="pipeds"
        empty="No pipeds registered yet. Register one, then install it with its key."
        head={
          <>
            <th>Name</th>
            <th>Status</th>
            <th>Version</th>
            <th>Last seen</th>
            <th>Keys</th>
            {isAdmin && <th aria-label="actions" />}
          </>
        }
      >
        {list.map((p) => (
          <tr key={p.id} data-piped={p.name}>
            <td>
              {p.name}
              {p.disabled && <span className="tag">disabled</span>}
              <div className="muted small">{p.id}</div>
            </td>
            <td>
              <Status status={p.status ?? "UNKNOWN"} />
            </td>
            <td>{p.version || "—"}</td>
            <td>{when(p.lastSeenAt)}</td>
            <td>{p.keys?.length ?? 0}</td>
            {isAdmin && (
              <td className="actions">
                <ConfirmButton
                  label="Rotate key"
                  question={`Add a new key to ${p.name ?? ""}? The old key keeps working until you delete old keys.`}
                  onConfirm={() =>
                    act(async () => {
                      const r = await call("rotatePipedKey", { params: { id: p.id ?? "" } });
                      setSecret({ title: `New key of piped ${p.name ?? ""}`, key: r.key });
                    })
                  }
                />
                {(p.keys?.length ?? 0) > 1 && (
                  <ConfirmButton
                    label="Delete old keys"
                    danger
                    question={`Delete all but the newest key of ${p.name ?? ""}? A piped still using an old key is cut off.`}
                    onConfirm={() =>
                      act(() => call("deleteOldPipedKeys", { params: { id: p.id ?? "" } }))
                    }
                  />
                )}
                {p.disabled ? (
                  <ConfirmButton
                    label="Enable"
                    question={`Enable ${p.name ?? ""}?`}
                    onConfirm={() => act(() => call("enablePiped", { params: { id: p.id ?? "" } }))}
                  />
                ) : (
                  <ConfirmButton
                    label="Disable"
                    danger
                    question={`Disable ${p.name ?? ""}? Its key stops working at once.`}
                    onConfirm={() =>
                      act(() => call("disablePiped", { params: { id: p.id ?? "" } }))
                    }
                  />
                )}
              </td>
            )}
          </tr>
        ))}
      </Listing>
    </section>
  );
}
