import { useState, type ReactNode } from "react";
import type { UserInfo } from "@pipecd-ts/rest-api";
import { call, errorMessage } from "../api.js";
import { ErrorBox } from "../components/common.js";

/** Sign-in with a username and password from the control-plane config (session cookie). */
export function LoginPage(props: { onSignedIn(user: UserInfo): void }): ReactNode {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await call("login", { body: { username, password } });
      setPassword("");
      props.onSignedIn(r.user);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form
        aria-label="sign in"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h1>pipecd-ts</h1>
        <p className="muted">Sign in to see and approve deployments.</p>
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            maxLength={128}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={1024}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
