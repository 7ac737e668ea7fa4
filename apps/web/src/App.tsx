import { useCallback, useEffect, useState, type ReactNode } from "react";
import { RestError, type UserInfo } from "@pipecd-ts/rest-api";
import { call, errorMessage, onUnauthenticated, openStream, useStreamConnected } from "./api.js";
import { Link, navigate, useLocation } from "./router.js";
import { SessionContext } from "./session.js";
import { ErrorBox, Loading } from "./components/common.js";
import { LoginPage } from "./pages/Login.js";
import { ApplicationsPage } from "./pages/Applications.js";
import { ApplicationDetailsPage } from "./pages/ApplicationDetails.js";
import { DeploymentsPage } from "./pages/Deployments.js";
import { DeploymentDetailsPage } from "./pages/DeploymentDetails.js";
import { PipedsPage } from "./pages/Pipeds.js";
import { ApiKeysPage } from "./pages/ApiKeys.js";
import { AuditLogPage } from "./pages/AuditLog.js";

type Session = { state: "loading" } | { state: "out" } | { state: "in"; user: UserInfo };

/** The whole UI: who is signed in, the navigation bar and the page of the current path. */
export function App(): ReactNode {
  const [session, setSession] = useState<Session>({ state: "loading" });
  const [error, setError] = useState<string>();
  const { path, query } = useLocation();

  const loadMe = useCallback(() => {
    call("me").then(
      (r) => setSession({ state: "in", user: r.user }),
      (err: unknown) => {
        if (err instanceof RestError && err.status === 401) setSession({ state: "out" });
        else setError(errorMessage(err));
      },
    );
  }, []);
  useEffect(loadMe, [loadMe]);
  useEffect(() => onUnauthenticated(() => setSession({ state: "out" })), []);
  const signedIn = session.state === "in";
  useEffect(() => (signedIn ? openStream() : undefined), [signedIn]);
  const live = useStreamConnected();

  if (session.state === "loading")
    return <main className="page">{error ? <ErrorBox error={error} /> : <Loading what="" />}</main>;
  if (session.state === "out")
    return (
      <LoginPage
        onSignedIn={(user) => {
          setSession({ state: "in", user });
          if (path === "/login" || path === "/") navigate("/applications", true);
        }}
      />
    );
  const user = session.user;
  const logout = async (): Promise<void> => {
    try {
      await call("logout");
    } finally {
      setSession({ state: "out" });
      navigate("/login", true);
    }
  };
  return (
    <SessionContext.Provider value={user}>
      <header className="topbar">
        <Link to="/applications" className="brand">
          pipecd-ts
        </Link>
        <nav aria-label="main">
          <NavLink to="/applications" path={path}>
            Applications
          </NavLink>
          <NavLink to="/deployments" path={path}>
            Deployments
          </NavLink>
          <NavLink to="/pipeds" path={path}>
            Pipeds
          </NavLink>
          <NavLink to="/api-keys" path={path}>
            API keys
          </NavLink>
          {user.role === "admin" && (
            <NavLink to="/audit-log" path={path}>
              Audit log
            </NavLink>
          )}
        </nav>
        <span className="who" data-testid="who">
          {user.username} <span className="role">({user.role})</span>
        </span>
        <button type="button" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      {!live && (
        <div className="banner" role="status" data-testid="live-paused">
          Live updates paused – reconnecting…
        </div>
      )}
      <main className="page">{route(path, query, user)}</main>
    </SessionContext.Provider>
  );
}

function NavLink(props: { to: string; path: string; children: ReactNode }): ReactNode {
  const active = props.path === props.to || props.path.startsWith(`${props.to}/`);
  return (
    <Link to={props.to} className={active ? "active" : undefined}>
      {props.children}
    </Link>
  );
}

function route(path: string, query: URLSearchParams, user: UserInfo): ReactNode {
  if (path === "/" || path === "/login" || path === "/applications")
    return <ApplicationsPage query={query} />;
  const appId = pathId(/^\/applications\/([^/]+)$/, path);
  if (appId) return <ApplicationDetailsPage id={appId} />;
  if (path === "/deployments") return <DeploymentsPage query={query} />;
  const id = pathId(/^\/deployments\/([^/]+)$/, path);
  if (id) return <DeploymentDetailsPage id={id} />;
  if (path === "/pipeds") return <PipedsPage />;
  if (path === "/api-keys") return <ApiKeysPage />;
  if (path === "/audit-log" && user.role === "admin") return <AuditLogPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>
        {path === "/audit-log" ? " for your role" : ""}.{" "}
        <Link to="/applications">Go to applications</Link>.
      </p>
    </section>
  );
}

/** The decoded id that `re`'s first group captures in `path`; undefined if none or malformed. */
function pathId(re: RegExp, path: string): string | undefined {
  const m = re.exec(path)?.[1];
  return m === undefined ? undefined : safeDecode(m);
}

/** decodeURIComponent, or undefined for a malformed escape (e.g. a truncated "%E0%A4%A"). */
function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
