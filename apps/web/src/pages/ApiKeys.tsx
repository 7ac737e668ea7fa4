import { useState, type ReactNode } from "react";
import type { UserInfo } from "@pipecd-ts/rest-api";
import { call, errorMessage, useApi } from "../api.js";
import { ConfirmButton, ErrorBox, Listing, SecretOnce } from "../components/common.js";
import { when } from "../format.js";

/** API keys (admin): create (shown once), list, disable. */
export function ApiKeysPage(): ReactNode {
  const keys = useApi("listAPIKeys", undefined, "keys");
  const [name, setName] = useState("");
  const [role, setRole] = useState<UserInfo["role"]>("viewer");
  const [secret, setSecret] = useState<{ title: string; key: string }>();
  const [error, setError] = useState<string>();
  const create = async (): Promise<void> => {
    setError(undefined);
    try {
      const r = await call("createAPIKey", { body: { name: name.trim(), role } });
      setSecret({ title: `API key ${r.apiKey.name ?? ""} (${role})`, key: r.key });
      setName("");
      keys.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const list = keys.data?.apiKeys ?? [];
  return (
    <section>
      <h1>API keys</h1>
      <form
        className="inline-form"
        aria-label="create an API key"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label>
          Name
          <input value={name} required maxLength={128} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as UserInfo["role"])}>
            <option value="viewer">viewer (read)</option>
            <option value="editor">editor (approve, sync, cancel)</option>
            <option value="admin">admin (everything)</option>
          </select>
        </label>
        <button type="submit" className="primary">
          Create
        </button>
      </form>
      <ErrorBox error={error} />
      {secret && (
        <SecretOnce title={secret.title} secret={secret.key} onDone={() => setSecret(undefined)} />
      )}
      <Listing
        state={keys}
        count={list.length}
        what="API keys"
        empty="No API keys."
        head={
          <>
            <th>Name</th>
            <th>Role</th>
            <th>Owner</th>
            <th>Last used</th>
            <th aria-label="actions" />
          </>
        }
      >
        {list.map((k) => (
          <tr key={k.id}>
            <td>
              {k.name}
              {k.disabled && <span className="tag">disabled</span>}
              <div className="muted small">{k.id}</div>
            </td>
            <td>{(k.role ?? "VIEWER").toLowerCase()}</td>
            <td>{k.creator}</td>
            <td>{when(k.lastUsedAt)}</td>
            <td>
              {!k.disabled && (
                <ConfirmButton
                  label="Disable"
                  danger
                  question={`Disable the API key ${k.name ?? ""}? Calls with it fail at once.`}
                  onConfirm={async () => {
                    await call("disableAPIKey", { params: { id: k.id ?? "" } });
                    keys.reload();
                  }}
                />
              )}
            </td>
          </tr>
        ))}
      </Listing>
    </section>
  );
}
