import { useState, type ReactNode } from "react";
import { call, errorMessage, useApi, useLive } from "../api.js";
import {
  ConfigWarnings,
  ConfirmButton,
  ErrorBox,
  Listing,
  SecretOnce,
  Status,
} from "../components/common.js";
import { when } from "../format.js";
import { useCan } from "../session.js";

/** Pipeds with online/offline, version, last seen; register, rotate key, enable/disable (admin). */
export function PipedsPage(): ReactNode {
  const pipeds = useApi("listPipeds", undefined, "pipeds");
  useLive((ev) => ev.type === "piped", pipeds.reload);
  const isAdmin = useCan("admin");
  const canEncrypt = useCan("editor");
  const [encrypting, setEncrypting] = useState<{ id: string; name: string }>();
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
      {encrypting && <EncryptDialog piped={encrypting} onDone={() => setEncrypting(undefined)} />}
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
            {canEncrypt && <th aria-label="actions" />}
          </>
        }
      >
        {list.map((p) => (
          <tr key={p.id} data-piped={p.name}>
            <td>
              {p.name}
              {p.disabled && <span className="tag">disabled</span>}
              <div className="muted small">{p.id}</div>
              <ConfigWarnings warnings={p.configWarnings} title="config warnings" />
            </td>
            <td>
              <Status status={p.status ?? "UNKNOWN"} />
            </td>
            <td>{p.version || "—"}</td>
            <td>{when(p.lastSeenAt)}</td>
            <td>{p.keys?.length ?? 0}</td>
            {canEncrypt && (
              <td className="actions">
                {p.secretEncryption?.type === "KEY_PAIR" && (
                  <button
                    type="button"
                    onClick={() => setEncrypting({ id: p.id ?? "", name: p.name ?? "" })}
                  >
                    Encrypt a secret
                  </button>
                )}
                {isAdmin && <AdminActions p={p} act={act} setSecret={setSecret} />}
              </td>
            )}
          </tr>
        ))}
      </Listing>
    </section>
  );
}

type PipedJson = NonNullable<ReturnType<typeof useApi<"listPipeds">>["data"]>["pipeds"][number];

/** Rotate key, delete old keys, enable/disable (admin). */
function AdminActions(props: {
  p: PipedJson;
  act: (fn: () => Promise<unknown>) => Promise<void>;
  setSecret: (s: { title: string; key: string }) => void;
}): ReactNode {
  const { p, act, setSecret } = props;
  return (
    <>
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
          onConfirm={() => act(() => call("deleteOldPipedKeys", { params: { id: p.id ?? "" } }))}
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
          onConfirm={() => act(() => call("disablePiped", { params: { id: p.id ?? "" } }))}
        />
      )}
    </>
  );
}

/**
 * Encrypts a secret with a piped's public key for `spec.encryption.encryptedSecrets` (editor).
 * The plaintext stays in this form; only the ciphertext is shown.
 */
function EncryptDialog(props: {
  piped: { id: string; name: string };
  onDone: () => void;
}): ReactNode {
  const [plaintext, setPlaintext] = useState("");
  const [base64, setBase64] = useState(false);
  const [ciphertext, setCiphertext] = useState<string>();
  const [error, setError] = useState<string>();
  const encrypt = async (): Promise<void> => {
    setError(undefined);
    try {
      const r = await call("encryptSecret", {
        params: { id: props.piped.id },
        body: { plaintext, ...(base64 ? { base64Encoding: true } : {}) },
      });
      setCiphertext(r.ciphertext);
      setPlaintext("");
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <form
      className="dialog"
      role="dialog"
      aria-label={`encrypt a secret for ${props.piped.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        void encrypt();
      }}
    >
      <h2>Encrypt a secret for {props.piped.name}</h2>
      <p className="muted small">
        Only this piped can decrypt the result. Put it under{" "}
        <code>spec.encryption.encryptedSecrets</code> of an app it deploys.
      </p>
      <label>
        Secret
        <textarea
          value={plaintext}
          required
          rows={4}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => setPlaintext(e.target.value)}
        />
      </label>
      <label className="check">
        <input type="checkbox" checked={base64} onChange={(e) => setBase64(e.target.checked)} />
        Base64-encode it first (for a Secret&apos;s <code>data</code>)
      </label>
      <ErrorBox error={error} />
      {ciphertext && (
        <label>
          Encrypted
          <textarea readOnly rows={4} value={ciphertext} aria-label="encrypted secret" />
        </label>
      )}
      <div className="toolbar">
        <button type="submit" className="primary" disabled={plaintext === ""}>
          Encrypt
        </button>
        {ciphertext && (
          <button type="button" onClick={() => void navigator.clipboard?.writeText(ciphertext)}>
            Copy
          </button>
        )}
        <button type="button" onClick={props.onDone}>
          Close
        </button>
      </div>
    </form>
  );
}
