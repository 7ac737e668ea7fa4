import { useId, useState, type ReactNode } from "react";
import type { PipedJson } from "@pipecd-ts/proto";
import { call, errorMessage, useApi, useLive } from "../api.js";
import {
  configFile,
  configKey,
  defaultAppName,
  formatLabels,
  matchLocation,
  parseLabels,
  sortedLabels,
  type FoundConfig,
} from "../app-configs.js";
import { ErrorBox, Listing } from "../components/common.js";
import { shortHash } from "../format.js";
import { navigate } from "../router.js";

/**
 * Adds an application (editor+; issue 19 part 3), as PipeCD's "Add application" does: pick a
 * piped, then one of the app configs it found in its repositories that no application uses
 * (`piped.unregisteredApplications`, refreshed live on "piped" events). The piped has parsed
 * each one at its branch's head with the real loader: an invalid config is shown with the
 * loader's message and cannot be chosen, and a location typed by hand is accepted only when it
 * is one of the valid configs found, so nothing unvalidated is saved. Choosing prefills name,
 * labels and description from the config's spec; Save opens the new application's page.
 */
export function AddApplication(props: {
  pipeds: readonly PipedJson[];
  onClose: () => void;
}): ReactNode {
  const ids = useId();
  const [pipedId, setPipedId] = useState("");
  const piped = useApi(
    "getPiped",
    { params: { id: pipedId } },
    pipedId ? `piped|${pipedId}` : null,
  );
  useLive((ev) => ev.type === "piped" && ev.id === pipedId, piped.reload);
  const p = pipedId && piped.data?.piped.id === pipedId ? piped.data.piped : undefined;
  const pipedName = p?.name ?? props.pipeds.find((x) => x.id === pipedId)?.name ?? pipedId;
  const found = p?.unregisteredApplications ?? [];
  const repos = (p?.repositories ?? []).map((r) => r.id ?? "").filter((r) => r);

  const [picked, setPicked] = useState<FoundConfig>();
  const [name, setName] = useState("");
  const [labels, setLabels] = useState("");
  const [description, setDescription] = useState("");
  const [hand, setHand] = useState({ repoId: "", path: "", configFilename: "" });
  const [handError, setHandError] = useState<string>();
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState(false);

  // The chosen config as the piped reports it now: it may have left the list (an application
  // uses it, or it left Git) or turned invalid since it was chosen.
  const current = picked && found.find((c) => configKey(c) === configKey(picked));
  const gone = picked && p && !current ? picked : undefined;
  const usable = current && !current.error ? current : undefined;

  const choose = (c: FoundConfig): void => {
    setPicked(c);
    setName(defaultAppName(c));
    setLabels(formatLabels(c.labels));
    setDescription(c.description ?? "");
    setHandError(undefined);
    setError(undefined);
  };
  const pickPiped = (id: string): void => {
    setPipedId(id);
    setPicked(undefined);
    setHandError(undefined);
    setError(undefined);
  };
  const applyLocation = (): void => {
    const r = matchLocation(found, repos, hand, pipedName);
    if ("message" in r) setHandError(r.message);
    else choose(r.config);
  };
  const save = async (): Promise<void> => {
    if (!usable) return;
    const parsed = parseLabels(labels);
    if ("message" in parsed) {
      setError(parsed.message);
      return;
    }
    setSaving(true);
    setError(undefined);
    try {
      // Checked once more against what the piped reports now, right before saving.
      const fresh = await call("getPiped", { params: { id: pipedId } });
      const now = (fresh.piped.unregisteredApplications ?? []).find(
        (c) => configKey(c) === configKey(usable),
      );
      if (!now || now.error) {
        piped.reload();
        throw new Error(
          now?.error
            ? `${configFile(usable)} is invalid now: ${now.error}`
            : `the piped no longer reports ${configFile(usable)} as unused`,
        );
      }
      const desc = description.trim();
      const r = await call("addApplication", {
        body: {
          name: name.trim(),
          pipedId,
          gitPath: {
            repoId: usable.repoId ?? "",
            // A config at the repository's root: the API wants a path; the piped reads "." as it.
            path: usable.path || ".",
            ...(usable.configFilename ? { configFilename: usable.configFilename } : {}),
          },
          ...(Object.keys(parsed.labels).length > 0 ? { labels: parsed.labels } : {}),
          ...(desc ? { description: desc } : {}),
        },
      });
      navigate(`/applications/${encodeURIComponent(r.id)}`);
    } catch (err) {
      setError(errorMessage(err));
      setSaving(false);
    }
  };

  return (
    <section className="dialog add-app" role="dialog" aria-label="add an application">
      <h2>Add an application</h2>
      <p className="muted small">
        A piped offers the app configs (<code>*.pipecd.yaml</code>) it finds in its Git repositories
        that no application uses yet, checked at the branch&apos;s head.
      </p>
      <label>
        Piped
        <select value={pipedId} onChange={(e) => pickPiped(e.target.value)}>
          <option value="">Choose a piped…</option>
          {props.pipeds.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
              {x.disabled ? " (disabled)" : x.status !== "ONLINE" ? " (offline)" : ""}
            </option>
          ))}
        </select>
      </label>
      {pipedId && (
        <fieldset className="found-configs">
          <legend>App configs {pipedName} found</legend>
          <Listing
            state={piped}
            count={found.length}
            what="the app configs"
            empty={`${pipedName} reports no app config that no application uses. A piped reports what it finds in its repositories every sync interval while it is connected.`}
            head={
              <>
                <th aria-label="choose" />
                <th>Repository</th>
                <th>Path</th>
                <th>Config file</th>
                <th>Name</th>
                <th>Labels</th>
              </>
            }
          >
            {found.map((c, i) => {
              const errId = `${ids}-err-${i}`;
              return (
                <tr
                  key={configKey(c)}
                  data-config={configFile(c)}
                  data-valid={c.error ? "false" : "true"}
                  className={c.error ? "invalid" : undefined}
                >
                  <td>
                    <input
                      type="radio"
                      name={`${ids}-config`}
                      aria-label={`${c.repoId ?? ""}:${configFile(c)}`}
                      aria-describedby={c.error ? errId : undefined}
                      checked={!!picked && configKey(picked) === configKey(c)}
                      disabled={!!c.error}
                      onChange={() => choose(c)}
                    />
                  </td>
                  <td>
                    <code>{c.repoId}</code>
                  </td>
                  <td>
                    <code>{c.path || "/"}</code>
                  </td>
                  <td>
                    <code>{c.configFilename}</code>
                  </td>
                  {c.error ? (
                    <td colSpan={2}>
                      <div className="config-error small" id={errId}>
                        Invalid: {c.error}
                      </div>
                    </td>
                  ) : (
                    <>
                      <td>{c.name || <span className="muted">—</span>}</td>
                      <td>
                        {sortedLabels(c.labels).map(([k, v]) => (
                          <span key={k} className="tag">
                            {k}={v}
                          </span>
                        ))}
                      </td>
                    </>
                  )}
                </tr>
              );
            })}
          </Listing>
        </fieldset>
      )}
      {p && (
        <>
          <p className="muted small" id={`${ids}-by-hand`}>
            Or enter the location of a config it found:
          </p>
          <form
            className="inline-form"
            aria-describedby={`${ids}-by-hand`}
            aria-label="location by hand"
            onSubmit={(e) => {
              e.preventDefault();
              applyLocation();
            }}
          >
            <label>
              Repository
              <input
                list={`${ids}-repos`}
                value={hand.repoId}
                required
                placeholder={repos[0]}
                onChange={(e) => setHand({ ...hand, repoId: e.target.value })}
              />
            </label>
            <datalist id={`${ids}-repos`}>
              {repos.map((r) => (
                <option key={r} value={r} />
              ))}
            </datalist>
            <label>
              Path
              <input
                value={hand.path}
                required
                placeholder="apps/my-app"
                onChange={(e) => setHand({ ...hand, path: e.target.value })}
              />
            </label>
            <label>
              Config file
              <input
                value={hand.configFilename}
                placeholder="app.pipecd.yaml"
                onChange={(e) => setHand({ ...hand, configFilename: e.target.value })}
              />
            </label>
            <button type="submit">Use this location</button>
          </form>
        </>
      )}
      <ErrorBox error={handError} />
      <form
        aria-label="new application"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {usable ? (
          <p className="small" data-testid="add-app-source">
            Deploys <code>{`${usable.repoId ?? ""}:${configFile(usable)}`}</code> with {pipedName},
            checked at commit <code>{shortHash(usable.commitHash)}</code>.
          </p>
        ) : (
          <p className="muted small">
            {gone
              ? `${pipedName} no longer reports ${configFile(gone)}: an application uses it now, or it left Git. Choose another.`
              : current?.error
                ? `${configFile(current)} is invalid now: ${current.error}`
                : "Choose a valid app config above, or enter its location."}
          </p>
        )}
        <fieldset className="plain" disabled={!usable || saving}>
          <label>
            Name
            <input
              value={name}
              required
              maxLength={100}
              onChange={(e) => setName(e.target.value)}
            />
          </label>
          <label>
            Labels
            <textarea
              value={labels}
              rows={3}
              placeholder="team=payments"
              spellCheck={false}
              aria-describedby={`${ids}-labels-hint`}
              onChange={(e) => setLabels(e.target.value)}
            />
          </label>
          <span className="muted small" id={`${ids}-labels-hint`}>
            One key=value a line.
          </span>
          <label>
            Description
            <textarea
              value={description}
              rows={2}
              maxLength={2000}
              onChange={(e) => setDescription(e.target.value)}
            />
          </label>
        </fieldset>
        <ErrorBox error={error} />
        <div className="actions toolbar">
          <button type="submit" className="primary" disabled={!usable || saving}>
            {saving ? "Saving…" : "Save"}
          </button>
          <button type="button" onClick={props.onClose} disabled={saving}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
