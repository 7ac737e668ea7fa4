import { posix } from "node:path";
import { isApplicationConfigFile } from "@pipecd-ts/config";
import type { Application, UnregisteredApplicationJson } from "@pipecd-ts/proto";

/** App configs found in one repository at most (a monorepo of configs is cut, and says so). */
export const MAX_FOUND_PER_REPO = 500;

/** An app config file of a repository: its directory, file name and blob. */
export interface ConfigFile {
  path: string;
  configFilename: string;
  file: string;
  blob: string;
}

/** Every app config file of a tree (`*.pipecd.yaml`, `.pipe.yaml`), sorted by path. */
export function configFiles(tree: ReadonlyMap<string, string>): ConfigFile[] {
  const out: ConfigFile[] = [];
  for (const [file, blob] of tree) {
    if (!isApplicationConfigFile(file)) continue;
    out.push({
      path: posix.dirname(file) === "." ? "" : posix.dirname(file),
      configFilename: posix.basename(file),
      file,
      blob,
    });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * Whether an application uses the config `f` of repository `repoId` (same directory, and the
 * same file, an unset file name meaning app.pipecd.yaml or the legacy .pipe.yaml).
 */
export function isRegistered(apps: readonly Application[], repoId: string, f: ConfigFile): boolean {
  const dir = (p: string) => posix.normalize(p || ".").replace(/\/+$/, "");
  return apps.some(
    (a) =>
      a.gitPath?.repo?.id === repoId &&
      dir(a.gitPath.path) === dir(f.path) &&
      (a.gitPath.configFilename
        ? a.gitPath.configFilename === f.configFilename
        : f.configFilename === "app.pipecd.yaml" || f.configFilename === ".pipe.yaml"),
  );
}

/** A stable text of a list of unregistered apps, to report only what changed. */
export function fingerprint(found: readonly Partial<UnregisteredApplicationJson>[]): string {
  return JSON.stringify(found);
}
