import { readdir, readFile } from "node:fs/promises";
import { isApplicationConfigFile } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { insideDir } from "./paths.js";
import type { RenderedText, Renderer, RenderRequest } from "./render.js";

/**
 * Plain YAML (PipeCD `loader.go` without a templating method): `input.manifests` when given,
 * else every `*.yaml|*.yml|*.json` file directly in the app directory (not recursive) except
 * app config files, in name order. A listed file must stay inside the repository.
 */
export class PlainRenderer implements Renderer {
  readonly method = "plain" as const;

  async render(req: RenderRequest): Promise<RenderedText[]> {
    let files: string[];
    if (req.input.manifests.length) files = [...req.input.manifests];
    else {
      const entries = await readdir(req.appDir, { withFileTypes: true });
      files = entries
        .filter(
          (e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name) && !isApplicationConfigFile(e.name),
        )
        .map((e) => e.name)
        .sort();
    }
    const out: RenderedText[] = [];
    for (const f of files) {
      const path = await insideDir(req.repoDir, req.appDir, f, "manifest");
      const text = await readFile(path, "utf8").catch((err: Error) => {
        throw new InvalidArgumentError(`cannot read manifest ${f}: ${err.message}`);
      });
      out.push({ source: f, text });
    }
    return out;
  }
}
