import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { freePort, startStack, type Stack } from "@pipecd-ts/testkit";
import { GROUPS } from "../src/index.js";
import { json, pipectl, type Run } from "./helpers.js";

// pipectl as users run it: the real bin/pipectl as a child process, against a real control plane
// (bin/pipecd-server on SQLite). Commands that need a deployment are in deployment.test.ts.

/** Runs many pipectl invocations, a few at a time (each is a Node process start). */
async function runAll(argvs: string[][], env: Record<string, string> = {}): Promise<Run[]> {
  const out: Run[] = [];
  for (let i = 0; i < argvs.length; i += 4)
    out.push(...(await Promise.all(argvs.slice(i, i + 4).map((a) => pipectl(a, env)))));
  return out;
}

describe("pipectl command line (no control plane needed)", () => {
  it("--help works on pipectl, every command and every subcommand (exit 0, usage on stdout)", async () => {
    const argvs = [
      ["--help"],
      ["help"],
      ["help", "stage", "approve"],
      ...GROUPS.map((g) => [g.name, "--help"]),
      ...GROUPS.flatMap((g) => g.commands.map((c) => [g.name, c.verb, "--help"])),
    ];
    const runs = await runAll(argvs);
    for (const [i, r] of runs.entries()) {
      const argv = argvs[i] ?? [];
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, "", argv.join(" "));
      if (argv.length === 3 && argv[0] !== "help")
        assert.match(r.stdout, new RegExp(`Usage:\\n  pipectl ${argv[0]} ${argv[1]}\\b`));
      else if (argv.length === 2 && argv[0] !== "--help") {
        const g = GROUPS[i - 3];
        // A group of one command shows that command's help (`pipectl plan-preview --help`).
        assert.match(
          r.stdout,
          g?.single
            ? new RegExp(`Usage:\\n  pipectl ${g.name} ${g.commands[0]?.verb}\\b`)
            : new RegExp(`Subcommands:[^]*\\n  ${g?.commands[0]?.verb}`),
        );
      } else assert.match(r.stdout, /Usage:/);
    }
    // every global flag is listed in a subcommand's help
    const approve = runs[2]?.stdout ?? "";
    for (const f of [
      "--address",
      "--api-key",
      "--api-key-file",
      "-o, --output",
      "--request-timeout",
    ])
      assert.ok(approve.includes(f), `stage approve --help lists ${f}`);
  });

  it("usage errors exit 2 and say what is wrong", async () => {
    const env = { PIPECD_API_KEY: "k.s", PIPECD_ADDRESS: "http://127.0.0.1:9" };
    const cases: [string[], RegExp][] = [
      [[], /Usage:/],
      [
        ["deploy"],
        /unknown command "deploy" \(commands: piped, apikey, application, deployment, stage, plan-preview, event\)/,
      ],
      [["piped"], /a subcommand is required/],
      [["piped", "lst"], /unknown subcommand "piped lst" \(subcommands: register, list/],
      [["piped", "list", "--bogus"], /Unknown option '--bogus'/],
      [["piped", "get"], /missing PIPED_ID \(usage: pipectl piped get PIPED_ID\)/],
      [["piped", "get", "a", "b"], /unexpected argument "b"/],
      [["piped", "register"], /--name is required/],
      [["piped", "list", "-o", "yaml"], /"yaml" is not table or json/],
      [["piped", "list", "--request-timeout", "10"], /"10" is not a positive duration/],
      [
        ["piped", "list", "--address", "127.0.0.1:8080"],
        /"127.0.0.1:8080" is not an http:\/\/ or https:\/\/ URL/,
      ],
      [
        ["apikey", "create", "--name", "x", "--role", "root"],
        /"root" is not one of viewer, editor, admin/,
      ],
      [["deployment", "wait", "d1"], /--status is required/],
      [
        ["deployment", "wait", "d1", "--status", "RUNNING"],
        /"RUNNING" is not one of SUCCESS, FAILURE, CANCELLED/,
      ],
      [
        ["deployment", "wait", "d1", "--status", "SUCCESS", "--timeout", "soon"],
        /--timeout: "soon"/,
      ],
      [
        ["deployment", "list", "--status", "DONE"],
        /"DONE" is not one of PENDING, PLANNED, RUNNING/,
      ],
      [["deployment", "list", "--limit", "ten"], /--limit: "ten" is not a whole number/],
      [["deployment", "logs", "d1", "--retried-count", "1"], /--retried-count needs --stage/],
      [["application", "list", "--disabled", "maybe"], /"maybe" is not true or false/],
      [["application", "add", "--name", "a", "--piped", "p", "--repo", "r"], /--path is required/],
      [
        [
          "application",
          "add",
          "--name",
          "a",
          "--piped",
          "p",
          "--repo",
          "r",
          "--path",
          "x",
          "--label",
          "nolabel",
        ],
        /"nolabel" is not key=value/,
      ],
      [["stage", "approve"], /--deployment is required/],
    ];
    const runs = await runAll(
      cases.map(([a]) => a),
      env,
    );
    for (const [i, r] of runs.entries()) {
      const [argv, re] = cases[i] ?? [[], /./];
      assert.equal(
        r.code,
        2,
        `pipectl ${argv.join(" ")} exits 2 (got ${String(r.code)}): ${r.stderr}`,
      );
      assert.match(r.stderr, re, `pipectl ${argv.join(" ")}`);
      if (argv.length) assert.match(r.stderr, /Run 'pipectl .*--help' for usage|Subcommands:/);
      assert.equal(r.stdout, "", `pipectl ${argv.join(" ")} prints nothing on stdout`);
    }
  });

  it("no API key: exit 2 naming --api-key, --api-key-file and PIPECD_API_KEY; unreadable or empty key files too", async () => {
    const empty = join(process.env.TMPDIR ?? "/tmp", `pipectl-empty-key-${process.pid}`);
    await writeFile(empty, "\n");
    const [none, both, missing, blank] = await runAll([
      ["piped", "list", "--address", "http://127.0.0.1:9"],
      ["piped", "list", "--api-key", "a.b", "--api-key-file", empty],
      ["piped", "list", "--api-key-file", "/nonexistent/key"],
      ["piped", "list", "--api-key-file", empty],
    ]);
    assert.equal(none?.code, 2);
    assert.match(
      none?.stderr ?? "",
      /no API key: pass --api-key KEY or --api-key-file FILE, or set PIPECD_API_KEY/,
    );
    assert.equal(both?.code, 2);
    assert.match(both?.stderr ?? "", /either --api-key or --api-key-file, not both/);
    assert.equal(missing?.code, 2);
    assert.match(missing?.stderr ?? "", /--api-key-file: cannot read \/nonexistent\/key/);
    assert.equal(blank?.code, 2);
    assert.match(blank?.stderr ?? "", /is empty/);
  });

  it("a control plane that is down: exit 3 with the address and 'connection refused'", async () => {
    const port = await freePort();
    const r = await pipectl(["deployment", "list"], {
      PIPECD_ADDRESS: `http://127.0.0.1:${port}`,
      PIPECD_API_KEY: "k.s",
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot reach the control plane at http://127\\.0\\.0\\.1:${port}: connection refused`,
      ),
    );
  });

  it("a control plane that does not answer: exit 3 after --request-timeout", async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => sockets.add(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      const r = await pipectl(
        ["piped", "list", "--request-timeout", "700ms", "--address", `http://127.0.0.1:${port}`],
        { PIPECD_API_KEY: "k.s" },
      );
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /did not answer within 0\.7s \(--request-timeout\)/);
      assert.ok(Date.now() - t0 < 15_000, "gave up at the timeout");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("pipectl against a control plane", () => {
  let s: Stack;
  let env: Record<string, string>;
  before(async () => {
    s = await startStack();
    env = { PIPECD_ADDRESS: s.httpUrl, PIPECD_API_KEY: s.adminKey };
  });
  after(async () => s?.close());

  it("piped register prints the id and the key once; list -o json never shows a key", async () => {
    const r = await pipectl(["piped", "register", "--name", "cluster-a", "--desc", "first"], env);
    assert.equal(r.code, 0, r.stderr);
    const key = /Key:\s+(\S+)/.exec(r.stdout)?.[1] ?? "";
    assert.ok(key.length >= 20, `a key is printed: ${r.stdout}`);
    assert.match(r.stdout, /shown only once/);
    const id = /\(([^)]+)\) registered/.exec(r.stdout)?.[1] ?? "";
    const list = await pipectl(["piped", "list", "-o", "json"], env);
    assert.equal(list.code, 0, list.stderr);
    const pipeds = json<{
      pipeds: { id: string; name: string; desc: string; disabled: boolean }[];
    }>(list).pipeds;
    assert.deepEqual(
      pipeds.filter((p) => p.id === id).map((p) => [p.name, p.desc, p.disabled]),
      [["cluster-a", "first", false]],
    );
    assert.ok(!list.stdout.includes(key), "the key is never listed");
    const table = await pipectl(["piped", "list"], env);
    assert.match(
      table.stdout,
      /^ID\s+NAME\s+STATUS\s+VERSION\s+KEYS\s+SECRETS\s+WARNINGS\s+DISABLED/,
    );
    assert.match(table.stdout, new RegExp(`${id}\\s+cluster-a\\s+\\S+\\s+-\\s+1\\s+-\\s+0\\s+no`));
  });

  it("piped register -o json: {id, key, piped}; --key-file writes the key with mode 0600 and leaves it out", async () => {
    const r = json<{ id: string; key: string; piped: { id: string; name: string } }>(
      await pipectl(["piped", "register", "--name", "cluster-b", "-o", "json"], env),
    );
    assert.deepEqual(Object.keys(r).sort(), ["id", "key", "piped"]);
    assert.equal(r.piped.id, r.id);
    assert.equal(r.piped.name, "cluster-b");
    assert.ok(r.key.length >= 20);

    const file = join(s.dir, "piped-c.key");
    const f = await pipectl(
      ["piped", "register", "--name", "cluster-c", "--key-file", file, "-o", "json"],
      env,
    );
    assert.equal(f.code, 0, f.stderr);
    const body = json<Record<string, unknown>>(f);
    assert.deepEqual(Object.keys(body).sort(), ["id", "piped"]);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it("piped rotate-key adds a key shown once, delete-old-keys keeps the newest, disable and enable flip it", async () => {
    const { id } = json<{ id: string }>(
      await pipectl(["piped", "register", "--name", "rotating", "-o", "json"], env),
    );
    const rot = json<{ key: string; piped: { keys: unknown[] } }>(
      await pipectl(["piped", "rotate-key", id, "-o", "json"], env),
    );
    assert.ok(rot.key.length >= 20);
    assert.equal(rot.piped.keys.length, 2);
    const del = json<{ piped: { keys: unknown[] } }>(
      await pipectl(["piped", "delete-old-keys", id, "-o", "json"], env),
    );
    assert.equal(del.piped.keys.length, 1);
    const off = json<{ piped: { disabled: boolean } }>(
      await pipectl(["piped", "disable", id, "-o", "json"], env),
    );
    assert.equal(off.piped.disabled, true);
    const got = json<{ piped: { disabled: boolean } }>(
      await pipectl(["piped", "get", id, "-o", "json"], env),
    );
    assert.equal(got.piped.disabled, true);
    const on = await pipectl(["piped", "enable", id], env);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, new RegExp(`${id}\\s+rotating\\s+.*\\bno\\b`));
  });

  it("apikey create/list/disable: a viewer key reads, is refused admin work (exit 4), and stops working when disabled", async () => {
    const created = json<{
      id: string;
      key: string;
      apiKey: { id: string; name: string; role: string; disabled: boolean };
    }>(
      await pipectl(
        ["apikey", "create", "--name", "ci-reader", "--role", "viewer", "-o", "json"],
        env,
      ),
    );
    assert.deepEqual(Object.keys(created).sort(), ["apiKey", "id", "key"]);
    assert.equal(created.apiKey.role, "VIEWER");
    assert.ok(created.key.startsWith(`${created.id}.`));
    const viewer = { PIPECD_ADDRESS: s.httpUrl, PIPECD_API_KEY: created.key };

    const read = await pipectl(["piped", "list", "-o", "json"], viewer);
    assert.equal(read.code, 0, read.stderr);
    const refused = await pipectl(["piped", "register", "--name", "nope"], viewer);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /needs the admin role.*\(PERMISSION_DENIED, HTTP 403\)/);

    const list = await pipectl(["apikey", "list", "-o", "json"], env);
    const keys = json<{ apiKeys: { id: string; name: string }[] }>(list).apiKeys;
    assert.ok(keys.some((k) => k.id === created.id && k.name === "ci-reader"));
    assert.ok(!list.stdout.includes(created.key.split(".")[1] ?? "?"), "secrets are never listed");
    const table = await pipectl(["apikey", "list"], env);
    assert.match(table.stdout, new RegExp(`${created.id}\\s+ci-reader\\s+viewer\\s+\\S+\\s+no`));

    const dis = json<{ apiKey: { disabled: boolean } }>(
      await pipectl(["apikey", "disable", created.id, "-o", "json"], env),
    );
    assert.equal(dis.apiKey.disabled, true);
    const after = await pipectl(["piped", "list"], viewer);
    assert.equal(after.code, 4);
    assert.match(after.stderr, /\(UNAUTHENTICATED, HTTP 401\); check --api-key/);
  });

  it("a wrong API key: exit 4 with the server's message, whichever way the key is given", async () => {
    const file = join(s.dir, "wrong.key");
    await writeFile(file, "nokey.nosecret\n");
    const runs = await runAll([
      ["piped", "list", "--api-key", "nokey.nosecret", "--address", s.httpUrl],
      ["piped", "list", "--api-key-file", file, "--address", s.httpUrl],
    ]);
    const viaEnv = await pipectl(["piped", "list"], {
      PIPECD_ADDRESS: s.httpUrl,
      PIPECD_API_KEY_FILE: file,
    });
    for (const r of [...runs, viaEnv]) {
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /^pipectl: .+ \(UNAUTHENTICATED, HTTP 401\)/);
    }
  });

  it("the admin key works from --api-key-file and PIPECD_API_KEY_FILE too", async () => {
    const file = join(s.dir, "admin-key");
    const a = await pipectl(["piped", "list", "--api-key-file", file, "--address", s.httpUrl]);
    assert.equal(a.code, 0, a.stderr);
    const b = await pipectl(["apikey", "list"], {
      PIPECD_ADDRESS: s.httpUrl,
      PIPECD_API_KEY_FILE: file,
    });
    assert.equal(b.code, 0, b.stderr);
  });

  it("application add/list/get/disable/enable/sync with -o json shapes; sync of a disabled app is refused (exit 1)", async () => {
    const add = await pipectl(
      [
        "application",
        "add",
        "--name",
        "web",
        "--piped",
        s.pipedId,
        "--repo",
        "repo",
        "--path",
        "apps/web",
        "--label",
        "team=payments",
        "--label",
        "env:prod",
        "--description",
        "the web app",
        "-o",
        "json",
      ],
      env,
    );
    assert.equal(add.code, 0, add.stderr);
    const { id, application } = json<{
      id: string;
      application: {
        id: string;
        name: string;
        pipedId: string;
        gitPath: { repo: { id: string }; path: string };
        labels: Record<string, string>;
        disabled: boolean;
      };
    }>(add);
    assert.equal(application.id, id);
    assert.equal(application.gitPath.path, "apps/web");
    assert.equal(application.gitPath.repo.id, "repo");
    assert.deepEqual(application.labels, { team: "payments", env: "prod" });

    await pipectl(
      [
        "application",
        "add",
        "--name",
        "other",
        "--piped",
        s.pipedId,
        "--repo",
        "repo",
        "--path",
        "apps/other",
      ],
      env,
    );
    const byLabel = json<{ applications: { name: string }[]; cursor: string }>(
      await pipectl(["application", "list", "--label", "team=payments", "-o", "json"], env),
    );
    assert.deepEqual(
      byLabel.applications.map((a) => a.name),
      ["web"],
    );
    assert.equal(typeof byLabel.cursor, "string");
    const byPiped = await pipectl(["application", "list", "--piped", s.pipedId], env);
    assert.match(byPiped.stdout, /^ID\s+NAME\s+PIPED\s+REPO\s+PATH/);
    assert.match(byPiped.stdout, /\bweb\b/);
    assert.match(byPiped.stdout, /\bother\b/);

    const get = await pipectl(["application", "get", id], env);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /Name:\s+web\n/);
    assert.match(get.stdout, /Labels:\s+team=payments, env=prod\n/);

    const off = json<{ application: { disabled: boolean } }>(
      await pipectl(["application", "disable", id, "-o", "json"], env),
    );
    assert.equal(off.application.disabled, true);
    const disabledList = json<{ applications: { name: string }[] }>(
      await pipectl(["application", "list", "--disabled", "true", "-o", "json"], env),
    );
    assert.deepEqual(
      disabledList.applications.map((a) => a.name),
      ["web"],
    );
    const refused = await pipectl(["application", "sync", id], env);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(`application ${id} is disabled \\(FAILED_PRECONDITION, HTTP 412\\)`),
    );

    await pipectl(["application", "enable", id], env);
    const sync = await pipectl(
      ["application", "sync", id, "--strategy", "quick-sync", "-o", "json"],
      env,
    );
    assert.equal(sync.code, 0, sync.stderr);
    const { commandId } = json<{ commandId: string }>(sync);
    const cmd = await s.admin.call("getCommand", { params: { id: commandId } });
    assert.equal(cmd.command.syncApplication?.syncStrategy, "QUICK_SYNC");
  });

  it("bad input the server refuses: exit 1 with its message (unknown piped of an app)", async () => {
    const r = await pipectl(
      [
        "application",
        "add",
        "--name",
        "x",
        "--piped",
        "no-such-piped",
        "--repo",
        "repo",
        "--path",
        "x",
      ],
      env,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /pipedId no-such-piped is not a registered piped \(INVALID_ARGUMENT, HTTP 400\)/,
    );
  });

  it("unknown ids: exit 1 with the server's NOT_FOUND message, for every kind of object", async () => {
    const cases: [string[], RegExp][] = [
      [["piped", "get", "nope"], /piped nope not found \(NOT_FOUND, HTTP 404\)/],
      [["piped", "disable", "nope"], /piped nope not found/],
      [["piped", "rotate-key", "nope"], /piped nope not found/],
      [["apikey", "disable", "nope"], /not found \(NOT_FOUND, HTTP 404\)/],
      [["application", "get", "nope"], /application nope not found \(NOT_FOUND, HTTP 404\)/],
      [["application", "sync", "nope"], /application nope not found/],
      [["application", "enable", "nope"], /application nope not found/],
      [["deployment", "get", "nope"], /deployment nope not found \(NOT_FOUND, HTTP 404\)/],
      [["deployment", "logs", "nope"], /deployment nope not found/],
      [["deployment", "cancel", "nope"], /deployment nope not found/],
      [["deployment", "wait", "nope", "--status", "SUCCESS"], /deployment nope not found/],
      [["stage", "approve", "--deployment", "nope"], /deployment nope not found/],
      [["stage", "reject", "--deployment", "nope", "--stage", "s1"], /deployment nope not found/],
      [["stage", "skip", "--deployment", "nope"], /deployment nope not found/],
    ];
    const runs = await runAll(
      cases.map(([a]) => a),
      env,
    );
    for (const [i, r] of runs.entries()) {
      const [argv, re] = cases[i] ?? [[], /./];
      assert.equal(r.code, 1, `pipectl ${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re, `pipectl ${argv.join(" ")}`);
    }
  });

  it("empty lists print a friendly line (table) and an empty array (json)", async () => {
    const t = await pipectl(["deployment", "list"], env);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, "No deployments.\n");
    const j = json<{ deployments: unknown[]; cursor: string }>(
      await pipectl(["deployment", "list", "-o", "json"], env),
    );
    assert.deepEqual(j, { deployments: [], cursor: "" });
  });
});
