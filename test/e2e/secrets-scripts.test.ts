import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  constants,
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from "node:crypto";
import { withSignedInPage } from "./fixtures.js";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { RestError } from "@pipecd-ts/rest-api";
import { isProcessAlive, startStack, type DeploymentJson, type Stack } from "@pipecd-ts/testkit";

// Issue 16 end to end over real processes (control plane, piped, kube-sim, git): secrets
// decrypted into a Secret (ciphertexts made here by an independent implementation of PipeCD's
// format, by the REST API and by pipectl), attachments, autoCreateNamespace, SCRIPT_RUN with its
// rollback, and a warning on the application or the piped for every field still unsupported.

/**
 * PipeCD's hybrid format written from its description (shared/reference/pipecd-v0-features.md
 * §3.3), not from the product's code: base64(uint16_be(len R) || R || AES-256-GCM body || tag),
 * R = RSA-OAEP-SHA256(random 32-byte key), nonce = 12 zero bytes.
 */
function independentEncrypt(publicPem: string, plaintext: string): string {
  const key = randomBytes(32);
  const r = publicEncrypt(
    { key: publicPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    key,
  );
  const gcm = createCipheriv("aes-256-gcm", key, Buffer.alloc(12));
  const body = Buffer.concat([gcm.update(plaintext, "utf8"), gcm.final(), gcm.getAuthTag()]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(r.length);
  return Buffer.concat([len, r, body]).toString("base64");
}

/** The reverse of {@link independentEncrypt}, from the same description. */
function independentDecrypt(privatePem: string, ciphertext: string): string {
  const raw = Buffer.from(ciphertext, "base64");
  const n = raw.readUInt16BE(0);
  const key = privateDecrypt(
    { key: privatePem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    raw.subarray(2, 2 + n),
  );
  const body = raw.subarray(2 + n);
  const gcm = createDecipheriv("aes-256-gcm", key, Buffer.alloc(12));
  gcm.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([gcm.update(body.subarray(0, body.length - 16)), gcm.final()]).toString();
}

const keyPair = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });

const PASSWORD = "pa55-Word-0f-the-day";
const USER = "admin-user-x7";
const TOKEN = "tok-9f8e7d6c5b";
const API_KEY = "sk-live-51Hq-script";
const b64 = (s: string) => Buffer.from(s).toString("base64");

const secretApp = (
  secrets: Record<string, string>,
  configText: string,
): Record<string, string> => ({
  "secret-app/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: secret-app
  input:
    namespace: secret-ns
    autoCreateNamespace: true
  encryption:
    encryptedSecrets:
${Object.entries(secrets)
  .map(([k, v]) => `      ${k}: ${v}\n`)
  .join("")}    decryptionTargets: [secret.yaml]
  attachment:
    sources: { config: config.properties }
    targets: [configmap.yaml]
`,
  "secret-app/secret.yaml": `apiVersion: v1
kind: Secret
metadata: { name: app-secret }
type: Opaque
data:
  password: "{{ .encryptedSecrets.password }}"
stringData:
  user: "{{ .encryptedSecrets.user }}"
  token: "{{ .encryptedSecrets.token }}"
`,
  "secret-app/config.properties": configText,
  "secret-app/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: app-config }
data:
  app.properties: {{ .attachment.config | quote }}
`,
});

const scriptApp = (pidFile: string, apiKey: string): Record<string, string> => ({
  "script-app/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: script-app
  planner: { alwaysUsePipeline: true }
  encryption:
    encryptedSecrets: { apiKey: ${apiKey} }
    decryptionTargets: [api-key.txt]
  pipeline:
    stages:
      - id: hello
        name: SCRIPT_RUN
        with:
          env: { GREETING: hello }
          run: |
            echo "$GREETING from $SR_APPLICATION_NAME at $SR_TRIGGERED_COMMIT_HASH"
            echo "the key is $(cat api-key.txt)"
          onRollback: echo "undo hello rollback=$SR_IS_ROLLBACK greeting=$GREETING"
      - id: stuck
        name: SCRIPT_RUN
        with:
          timeout: 2s
          run: |
            sleep 60 & echo $! > ${pidFile}
            sleep 60
          onRollback: echo "undo stuck"
`,
  "script-app/api-key.txt": "{{ .encryptedSecrets.apiKey }}",
  "script-app/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: script-app }
data: { a: "1" }
`,
});

/** Fields PipeCD has that still do nothing here: each must show a warning (issue 16). */
const UNSUPPORTED_APP_FIELDS = ["spec.resourceRoutes", "spec.input.kubectlVersion"];
const UNSUPPORTED_PIPED_FIELDS = ["spec.git.sshKeyFile", "spec.planPreview"];

const warnApp = {
  "warn-app/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: warn-app
  input: { kubectlVersion: 1.30.0 }
  trigger:
    onCommit: { disabled: true }
    onOutOfSync: { disabled: false }
    onChain: { disabled: false }
  postSync:
    chain:
      applications: [{ name: other }]
  notification:
    mentions: [{ event: DEPLOYMENT_FAILED, slack: [U123] }]
  eventWatcher:
    - matcher: { name: image }
      handler: { type: GIT_UPDATE, config: { replacements: [{ file: a.yaml, yamlField: $.x }] } }
  driftDetection: { ignoreFields: [apps/v1:Deployment:default:web#spec.replicas] }
  resourceRoutes:
    - provider: { name: other-cluster }
`,
  "warn-app/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: warn }\n",
};

describe("secrets, attachments, SCRIPT_RUN and warnings end to end (real processes)", () => {
  let s: Stack;
  let core: k8s.CoreV1Api;
  let secretAppId = "";
  const keys = keyPair();
  const other = keyPair();
  const pidFile = `/tmp/script-run-${process.pid}-${Date.now()}.pid`;
  const secretDeployments: DeploymentJson[] = [];
  let dirKeys = "";

  const finished = (appId: string, commit: string, what: string) =>
    s.waitDeployment(
      appId,
      (d) =>
        d.trigger?.commit?.hash === commit &&
        ["DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILURE"].includes(d.status ?? ""),
      60_000,
      what,
    );

  before(async () => {
    dirKeys = await mkdtemp(join(tmpdir(), "piped-keys-"));
    await writeFile(join(dirKeys, "private.pem"), keys.privateKey, { mode: 0o600 });
    await writeFile(join(dirKeys, "public.pem"), keys.publicKey);
    s = await startStack({
      readyDelayMs: 50,
      users: [
        { username: "watcher", role: "viewer" },
        { username: "editor", role: "editor" },
      ],
      pipedSpec: `  secretManagement:
    type: KEY_PAIR
    config:
      privateKeyFile: ${join(dirKeys, "private.pem")}
      publicKeyFile: ${join(dirKeys, "public.pem")}
  git: { username: pipecd-bot, sshKeyFile: /etc/piped/ssh-key }
  eventWatcher: { checkInterval: 5m }
  planPreview: { gitHubToken: none }
`,
    });
    await s.startPiped();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await s.eventually(
      async () =>
        (await s.admin.call("getPiped", { params: { id: s.pipedId } })).piped.secretEncryption
          ?.type === "KEY_PAIR",
      30_000,
      "the piped's public key at the control plane",
    );
  });
  after(async () => {
    await s?.close();
    if (dirKeys) await rm(dirKeys, { recursive: true, force: true });
    await rm(pidFile, { force: true });
  });

  it("decrypts PipeCD-format secrets (made here, by REST and by pipectl) into the Secret's data and stringData, inlines the attachment and creates the namespace", async () => {
    const viaRest = (
      await s.admin.call("encryptSecret", {
        params: { id: s.pipedId },
        body: { plaintext: TOKEN },
      })
    ).ciphertext;
    const piped = await s.pipectl(["encrypt", "--piped", s.pipedId], { input: TOKEN });
    assert.equal(piped.code, 0, piped.stderr);
    const viaPipectl = piped.stdout.trim();
    assert.notEqual(viaPipectl, viaRest, "a fresh session key each time");
    const commit = await s.repo.commit(
      secretApp(
        {
          // A Secret's data wants base64: PipeCD's --use-base64-encoding.
          password: independentEncrypt(keys.publicKey, b64(PASSWORD)),
          user: independentEncrypt(keys.publicKey, USER),
          token: viaPipectl,
        },
        "mode=fast\nlevel=info\n",
      ),
      "secret-app v1",
    );
    secretAppId = await s.addApp("secret-app", "secret-app");
    const d = await finished(secretAppId, commit, "the first deployment of secret-app");
    secretDeployments.push(d);
    assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
    const ns = await core.readNamespace({ name: "secret-ns" });
    assert.equal(ns.status?.phase, "Active", "created by autoCreateNamespace");
    const secret = await core.readNamespacedSecret({ name: "app-secret", namespace: "secret-ns" });
    const data = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
    );
    assert.deepEqual(data, { password: PASSWORD, user: USER, token: TOKEN });
    const cm = await core.readNamespacedConfigMap({ name: "app-config", namespace: "secret-ns" });
    assert.equal(cm.data?.["app.properties"], "mode=fast\nlevel=info\n");
    const rest = await s.admin.call("encryptSecret", {
      params: { id: s.pipedId },
      body: { plaintext: "x", base64Encoding: true },
    });
    assert.ok(rest.ciphertext.length > 300);
    const viewer = await s.as("watcher");
    await assert.rejects(
      viewer.call("encryptSecret", { params: { id: s.pipedId }, body: { plaintext: "x" } }),
      (e: unknown) => e instanceof RestError && e.status === 403,
    );
  });

  it("a ciphertext made for another piped's key, or a corrupted one, fails the deployment with a clear message and applies nothing", async () => {
    const good = {
      password: independentEncrypt(keys.publicKey, b64(PASSWORD)),
      user: independentEncrypt(keys.publicKey, USER),
    };
    const corrupted = Buffer.from(independentEncrypt(keys.publicKey, TOKEN), "base64");
    corrupted[corrupted.length - 5] = (corrupted[corrupted.length - 5] ?? 0) ^ 0xff;
    const cases: [string, string, RegExp][] = [
      ["another key", independentEncrypt(other.publicKey, TOKEN), /not made for this piped's key/],
      ["corrupted", corrupted.toString("base64"), /corrupted \(authentication failed\)/],
    ];
    for (const [what, token, message] of cases) {
      const commit = await s.repo.commit(
        secretApp({ ...good, token }, `mode=${what}\n`),
        `secret-app: ${what}`,
      );
      const d = await finished(secretAppId, commit, `secret-app with a ciphertext of ${what}`);
      secretDeployments.push(d);
      assert.equal(d.status, "DEPLOYMENT_FAILURE", what);
      assert.match(d.statusReason ?? "", /failed to decrypt the secret "token"/, what);
      assert.match(d.statusReason ?? "", message, what);
      const cm = await core.readNamespacedConfigMap({ name: "app-config", namespace: "secret-ns" });
      assert.equal(
        cm.data?.["app.properties"],
        "mode=fast\nlevel=info\n",
        `${what}: nothing applied`,
      );
    }
  });

  it("SCRIPT_RUN logs its output and SR_* values; a timed-out script fails, leaves no process behind, and the rollback runs every onRollback", async () => {
    const commit = await s.repo.commit(
      scriptApp(pidFile, independentEncrypt(keys.publicKey, API_KEY)),
      "script-app v1",
    );
    const appId = await s.addApp("script-app", "script-app");
    const d = await finished(appId, commit, "script-app's pipeline");
    secretDeployments.push(d);
    assert.equal(d.status, "DEPLOYMENT_FAILURE");
    const statusOf = (id: string) => d.stages?.find((x) => x.id === id)?.status;
    assert.equal(statusOf("hello"), "STAGE_SUCCESS");
    assert.equal(statusOf("stuck"), "STAGE_FAILURE");
    assert.match(
      d.stages?.find((x) => x.id === "stuck")?.statusReason ?? "",
      /Canceled because of timeout/,
    );
    // A first deployment has nothing to roll back to (as in PipeCD); the scripts' undo still runs.
    assert.equal(statusOf("Rollback"), "STAGE_FAILURE");
    assert.equal(statusOf("ScriptRunRollback-hello"), "STAGE_SUCCESS");
    assert.equal(statusOf("ScriptRunRollback-stuck"), "STAGE_SUCCESS");
    const log = async (stageId: string) =>
      (
        await s.admin.call("getStageLogs", { params: { id: d.id ?? "", stageId }, query: {} })
      ).blocks
        .map((b) => b.log ?? "")
        .join("\n");
    const hello = await log("hello");
    assert.match(hello, new RegExp(`hello from script-app at ${commit}`));
    assert.match(hello, new RegExp(`SR_DEPLOYMENT_ID=${d.id ?? ""}`));
    assert.match(hello, /SR_IS_ROLLBACK=false/);
    assert.match(
      hello,
      /the key is \[redacted\]/,
      "a decrypted secret a script prints is redacted",
    );
    assert.match(await log("ScriptRunRollback-hello"), /undo hello rollback=true greeting=hello/);
    assert.match(await log("ScriptRunRollback-stuck"), /undo stuck/);
    const pid = Number(await readFile(pidFile, "utf8"));
    assert.ok(pid > 0, "the script wrote its background child's pid");
    await s.eventually(
      async () => !isProcessAlive(pid),
      10_000,
      `the background sleep ${pid} to be gone`,
    );
  });

  it("no plaintext in any log, the datastore's files or the stage logs", async () => {
    const plaintexts = [PASSWORD, USER, TOKEN, b64(PASSWORD), API_KEY];
    const found = (where: string, text: string): void => {
      for (const p of plaintexts) assert.ok(!text.includes(p), `${where} holds a plaintext`);
    };
    found("the piped's log", s.piped?.output() ?? "");
    found("the control plane's log", s.controlPlane.output());
    const dataDir = join(s.dir, "cp-data");
    let files = 0;
    for (const f of await readdir(dataDir, { recursive: true })) {
      if (!(await stat(join(dataDir, f))).isFile()) continue;
      found(`cp-data/${f}`, (await readFile(join(dataDir, f))).toString("latin1"));
      files++;
    }
    assert.ok(files > 0, "the datastore's files were read");
    for (const d of secretDeployments)
      for (const st of d.stages ?? []) {
        const logs = await s.admin.call("getStageLogs", {
          params: { id: d.id ?? "", stageId: st.id ?? "" },
          query: {},
        });
        found(`the log of ${d.id}/${st.id}`, JSON.stringify(logs));
      }
  });

  it("in Chromium, an editor encrypts a secret from the Pipeds page (it decrypts with the piped's key) and sees the piped's config warnings", async () => {
    await withSignedInPage(s.httpUrl, "editor", async (page) => {
      await page.goto(`${s.httpUrl}/pipeds`);
      const row = page.locator('tr[data-piped="test-piped"]');
      await row.locator("details.config-warnings summary").click();
      assert.match(
        await row.locator("details.config-warnings").innerText(),
        /2 config warnings[\s\S]*spec\.planPreview: is not supported yet and has no effect/,
      );
      await row.getByRole("button", { name: "Encrypt a secret" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel("Secret", { exact: true }).fill("from-the-browser-42");
      await dialog.getByRole("button", { name: "Encrypt", exact: true }).click();
      const out = dialog.getByLabel("encrypted secret");
      await out.waitFor();
      const ciphertext = await out.inputValue();
      assert.equal(independentDecrypt(keys.privateKey, ciphertext), "from-the-browser-42");
      assert.equal(
        await dialog.getByLabel("Secret", { exact: true }).inputValue(),
        "",
        "the plaintext is cleared",
      );
    });
  });

  describe("every field PipeCD has that still does nothing shows a warning through the API", () => {
    let appWarnings: string[] = [];
    let pipedWarnings: string[] = [];
    before(async () => {
      await s.repo.commit(warnApp, "warn-app");
      const appId = await s.addApp("warn-app", "warn-app");
      appWarnings = await s.eventually(
        async () => {
          const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
          const ws = (a.configWarnings ?? []).map((w) => `${w.path ?? ""}: ${w.message ?? ""}`);
          return ws.length > 0 && ws;
        },
        30_000,
        "warn-app's config warnings",
      );
      pipedWarnings = (
        (await s.admin.call("getPiped", { params: { id: s.pipedId } })).piped.configWarnings ?? []
      ).map((w) => `${w.path ?? ""}: ${w.message ?? ""}`);
    });
    for (const field of UNSUPPORTED_APP_FIELDS)
      it(`application: ${field}`, () =>
        assert.ok(
          appWarnings.includes(`${field}: is not supported yet and has no effect`),
          appWarnings.join("\n"),
        ));
    for (const field of UNSUPPORTED_PIPED_FIELDS)
      it(`piped: ${field}`, () =>
        assert.ok(
          pipedWarnings.includes(`${field}: is not supported yet and has no effect`),
          pipedWarnings.join("\n"),
        ));
    it("and nothing else: implemented fields (encryption, attachment, secretManagement, autoCreateNamespace, notifications, eventWatcher, driftDetection, onOutOfSync, postSync.chain, onChain, git's identity) give none", () => {
      assert.equal(appWarnings.length, UNSUPPORTED_APP_FIELDS.length, appWarnings.join("\n"));
      assert.equal(pipedWarnings.length, UNSUPPORTED_PIPED_FIELDS.length, pipedWarnings.join("\n"));
    });
  });
});
