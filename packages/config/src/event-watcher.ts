import type { FieldPath, FieldReader } from "./fields.js";

/** One replacement of an event watcher's GIT_UPDATE handler. */
export interface EventReplacement {
  /** Relative to the application directory. */
  readonly file: string;
  /** A YAML path such as `$.spec.template.spec.containers[0].image`; or `regex`. */
  readonly yamlField: string;
  /** A regular expression whose first capture group is replaced (in every match). */
  readonly regex: string;
}

/** An app config's `eventWatcher[]` entry (PipeCD §6.2). */
export interface EventWatcherConfig {
  readonly matcher: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  readonly handler: {
    readonly type: "GIT_UPDATE";
    /** A Go template over `{{ .Value }}` and `{{ .EventName }}`; empty: PipeCD's default. */
    readonly commitMessage: string;
    /** Commit to a new branch `<event>-<uuid>` instead of the deployed one (no pull request). */
    readonly makePullRequest: boolean;
    readonly replacements: readonly EventReplacement[];
  };
}

/**
 * PipeCD's app `eventWatcher` (features §6.2), validated where PipeCD is silent: a matcher name,
 * the GIT_UPDATE handler, at least one replacement, each with a relative file and exactly one
 * of `yamlField` and `regex` (PipeCD's `jsonField` and `hclField` write nothing useful, so they
 * are refused), and a regex that compiles with one capture group.
 */
export function readEventWatchers(r: FieldReader, p: FieldPath, v: unknown): EventWatcherConfig[] {
  return r.list(p, v).map((item, i) => {
    const ep = [...p, i];
    const m = r.map(ep, item) ?? {};
    r.keys(ep, m, ["matcher", "handler"]);
    const mp = [...ep, "matcher"];
    const mm = r.map(mp, m.matcher) ?? {};
    r.keys(mp, mm, ["name", "labels"]);
    const hp = [...ep, "handler"];
    const hm = r.map(hp, m.handler) ?? {};
    r.keys(hp, hm, ["type", "config"]);
    const type = r.string([...hp, "type"], hm.type, "GIT_UPDATE");
    if (type !== "GIT_UPDATE")
      r.add([...hp, "type"], `must be GIT_UPDATE (the only handler), got ${JSON.stringify(type)}`);
    const cp = [...hp, "config"];
    const cm = r.map(cp, hm.config) ?? {};
    r.keys(cp, cm, ["commitMessage", "makePullRequest", "replacements"]);
    const replacements = r.list([...cp, "replacements"], cm.replacements).map((x, j) => {
      const rp = [...cp, "replacements", j];
      const rm = r.map(rp, x) ?? {};
      r.keys(rp, rm, ["file", "yamlField", "regex", "jsonField", "hclField"]);
      for (const k of ["jsonField", "hclField"])
        if (rm[k] !== undefined)
          r.add([...rp, k], "is not supported (as in PipeCD); use yamlField or regex");
      const file = r.requiredString([...rp, "file"], rm.file);
      if (file.startsWith("/") || file.split("/").includes(".."))
        r.add([...rp, "file"], "must be a path inside the application directory");
      const yamlField = r.string([...rp, "yamlField"], rm.yamlField);
      const regex = r.string([...rp, "regex"], rm.regex);
      if ((yamlField === "") === (regex === ""))
        r.add(rp, "needs exactly one of yamlField and regex");
      if (yamlField && !/^\$(\.[A-Za-z0-9_-]+|\[\d+\])+$/.test(yamlField))
        r.add(
          [...rp, "yamlField"],
          'must be a path such as "$.spec.template.spec.containers[0].image"',
        );
      if (regex) {
        try {
          if (new RegExp(`${regex}|`).exec("")!.length < 2)
            r.add([...rp, "regex"], "must have a capture group: the part to replace");
        } catch (err) {
          r.add([...rp, "regex"], `does not compile: ${(err as Error).message}`);
        }
      }
      return { file, yamlField, regex };
    });
    if (replacements.length === 0) r.add([...cp, "replacements"], "needs at least one replacement");
    return {
      matcher: {
        name: r.requiredString([...mp, "name"], mm.name),
        labels: r.stringMap([...mp, "labels"], mm.labels),
      },
      handler: {
        type: "GIT_UPDATE" as const,
        commitMessage: r.string([...cp, "commitMessage"], cm.commitMessage),
        makePullRequest: r.bool([...cp, "makePullRequest"], cm.makePullRequest, false),
        replacements,
      },
    };
  });
}
