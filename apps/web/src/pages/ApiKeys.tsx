import { useState, type ReactNode } from "react";
import type { UserInfo } from "@pipecd-ts/rest-api";
import { call, errorMessage, useApi } from "../api.js";
import { ConfirmButton, ErrorBox, Listing, SecretOnce } from "../components/common.js";
import { when } from "../format.js";
import { useCan, useUser } from "../session.js";

const ROLES = [
  { role: "viewer", label: "viewer (read)" },
  { role: "editor", label: "editor (approve, sync, cancel)" },
  { role: "admin", label: "admin (everything)" },
] as const;

/**
 * API keys. Every signed-in user may create a personal key (shown once) with a role up to their
 * own, e.g. a named approver's key for pipectl; only admins list and disable keys. The server
 * enforces both (a key cannot create keys; a role above the caller's is refused).
 */
export function ApiKeysPage(): ReactNode {
  const user = useUser();
  const isAdmin = useCan("admin");
  const keys = useApi("listAPIKeys", undefined, isAdmin ? "keys" : null);
  const allowed = ROLES.slice(0, ROLES.findIndex((r) => r.role === user.role) + 1);
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
      if (isAdmin) keys.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const list = keys.data?.apiKeys ?? [];
  return (
    <section>
      <h1>API keys</h1>
      <p className="muted">
        {isAdmin
          ? "A key acts with its role for pipectl and scripts."
          : `Create a personal key for pipectl: it acts as you (${user.username}) with at most your role (${user.role}). Only an admin can list or disable keys.`}
      </p>
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
            {allowed.map((r) => (
              <option key={r.role} value={r.role}>
                {r.label}
              </option>
            ))}
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
      {isAdmin && (
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
      )}
    </section>
  );
}
