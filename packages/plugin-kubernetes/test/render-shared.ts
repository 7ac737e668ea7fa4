import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { HelmOptions, KubernetesDeploymentInput } from "@pipecd-ts/config";
import { AppError } from "@pipecd-ts/runtime";
import { git as gitIn } from "@pipecd-ts/testkit";
import type { RenderRequest } from "../src/manifest/render.js";

// What the helm and kustomize rendering tests share.

/** A rendered object, as far as the tests look at it. */
export interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { replicas?: number };
  data?: Record<string, string>;
}

/** The objects of a YAML stream (empty documents dropped). */
export const docs = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);

/** The real git CLI in `cwd` (rejects with git's message). */
export async function git(cwd: string, ...args: string[]): Promise<void> {
  await gitIn(cwd, args);
}

/** Rejects with the error `p` throws (assert.rejects does not hand it back). */
export async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AppError, `not an AppError: ${String(e)}`);
    return e;
  }
  assert.fail("expected a failure");
}

/** helmOptions as the config loader defaults them. */
export const HELM_OPTIONS: HelmOptions = {
  releaseName: "",
  valueFiles: [],
  setValues: {},
  setFiles: {},
  apiVersions: [],
  kubeVersion: "",
};

/** A render request for `appDir` in `repoDir`; the notes it gets are collected. */
export function renderRequest(
  repoDir: string,
  appDir: string,
  input: Partial<KubernetesDeploymentInput> = {},
  signal: AbortSignal = new AbortController().signal,
): RenderRequest & { notes: string[] } {
  const notes: string[] = [];
  return {
    appId: "app-1",
    appName: "web",
    appDir,
    repoDir,
    input: {
      manifests: [],
      namespace: "",
      autoRollback: true,
      autoCreateNamespace: false,
      kubectlVersion: "",
      kustomizeVersion: "",
      helmVersion: "",
      kustomizeOptions: {},
      helmChart: undefined,
      helmOptions: HELM_OPTIONS,
      ...input,
    },
    signal,
    note: (l) => notes.push(l),
    notes,
  };
}
