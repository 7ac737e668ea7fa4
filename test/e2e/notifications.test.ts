import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { freePort, startStack, type DeploymentJson, type Stack } from "@pipecd-ts/testkit";

// Notifications and approvals from Slack end to end, over real processes: the piped posts to
// Slack and to a webhook receiver played by a loopback server that records every request; Slack's
// button clicks are signed requests the test sends to the control plane. Given / when / then.

const SIGNING_SECRET = "slack-signing-8e1f";
const WEBHOOK_SIGNATURE = "hook-sig-51c2";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** The loopback receiver: every request recorded; /flaky answers 500 (after 1 s) three times. */
async function receiver(): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  let flaky = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body, at: Date.now() });
      if (req.url === "/flaky" && flaky++ < 3) {
        setTimeout(() => res.writeHead(500).end("boom"), 1_000);
        return;
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(req.url === "/api/chat.postMessage" ? '{"ok":true}' : "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const files = (image: string) => ({
  "notify/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: notify-app, labels: { app: notify-app } }
spec:
  replicas: 1
  selector: { matchLabels: { app: notify-app } }
  template:
    metadata: { labels: { app: notify-app } }
    spec:
      containers: [{ name: web, image: "example/web:${image}" }]
`,
  "notify/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: notify-app
  labels: { env: prod }
  notification:
    mentions:
      - { event: DEPLOYMENT_WAIT_APPROVAL, slackusers: [U0ONCALL] }
      - { event: "*", slackgroups: [S0TEAM] }
  pipeline:
    stages:
      - name: WAIT_APPROVAL
        with: { approvers: [reviewer] }
      - name: K8S_PRIMARY_ROLLOUT
`,
});

type Slack = {
  attachments: { title: string; fields: { title: string; value: string }[] }[];
  blocks?: { type: string; elements?: { action_id: string; value: string }[] }[];
};

describe("notifications and approvals from Slack", () => {
  let s: Stack;
  let rx: Awaited<ReturnType<typeof receiver>>;
  let appId = "";
  let adminPort = 0;
  const slackTitles = (since: number) =>
    rx.got
      .filter((r) => r.path === "/slack-hook" && r.at >= since)
      .map((r) => (JSON.parse(r.body) as Slack).attachments[0]?.title ?? "");
  const sign = (body: string, ts: number, secret = SIGNING_SECRET) =>
    `v0=${createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex")}`;
  const click = (o: {
    action: "pipecd_approve" | "pipecd_reject";
    value: string;
    user: string;
    ts?: number;
    secret?: string;
  }) => {
    const ts = o.ts ?? Math.floor(Date.now() / 1000);
    const body = new URLSearchParams({
      payload: JSON.stringify({
        type: "block_actions",
        user: { id: o.user, username: o.user.toLowerCase() },
        actions: [{ action_id: o.action, value: o.value }],
        response_url: `${rx.url}/response`,
        message: { text: "waiting", blocks: [{ type: "actions" }] },
      }),
    }).toString();
    return {
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": sign(body, ts, o.secret),
      },
    };
  };
  const send = (r: { body: string; headers: Record<string, string> }) =>
    fetch(`${s.httpUrl}/api/v1/webhooks/slack`, {
      method: "POST",
      headers: r.headers,
      body: r.body,
      signal: AbortSignal.timeout(10_000),
    });

  before(async () => {
    rx = await receiver();
    adminPort = await freePort();
    s = await startStack({
      pipedArgs: ["--admin-port", String(adminPort), "--slack-api-url", `${rx.url}/api`],
      syncInterval: "1s",
      readyDelayMs: 0,
      users: [
        { username: "reviewer", role: "editor" },
        { username: "watcher", role: "viewer" },
      ],
      controlPlaneSpec: `  slack:
    signingSecret: ${SIGNING_SECRET}
    users:
      - { slackUserId: U0REVIEWER, username: reviewer }
      - { slackUserId: U0WATCHER, username: watcher }
`,
      pipedSpec: `  notifications:
    routes:
      - { name: chat, receiver: slack, groups: [DEPLOYMENT] }
      - name: ci
        receiver: hook
        events: [DEPLOYMENT_TRIGGERED, DEPLOYMENT_WAIT_APPROVAL, DEPLOYMENT_APPROVED, DEPLOYMENT_SUCCEEDED]
        labels: { env: prod }
      - { name: flaky, receiver: flaky, events: [DEPLOYMENT_TRIGGERED] }
      - { name: ignored, receiver: hook, ignoreLabels: { env: prod } }
      - { name: bot, receiver: slack-bot, events: [DEPLOYMENT_SUCCEEDED] }
    receivers:
      - name: slack
        slack: { hookURL: "RX/slack-hook", mentionedGroups: [S0SRE] }
      - name: hook
        webhook: { url: "RX/webhook", signatureValue: ${WEBHOOK_SIGNATURE} }
      - name: flaky
        webhook: { url: "RX/flaky" }
      - name: slack-bot
        slack: { channelID: C0DEPLOYS, oauthToken: xoxb-test-token }
`.replaceAll("RX", rx.url),
    });
    await s.startPiped();
  });
  after(async () => {
    await s?.close();
    await rx?.close();
  });

  it("a receiver answering 500 three times still gets the message, and the deployment is not delayed", async () => {
    await s.repo.commit(files("v1"), "add notify-app");
    // Routes match the application's labels (given when it is registered, as in PipeCD).
    appId = (
      await s.admin.call("addApplication", {
        body: {
          name: "notify-app",
          pipedId: s.pipedId,
          gitPath: { repoId: "repo", path: "notify" },
          labels: { env: "prod" },
        },
      })
    ).id;
    const d = await s.waitDeployment(
      appId,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      30_000,
      "quick sync",
    );
    const succeededAt = Date.now();
    const flaky = await s.eventually(
      async () => {
        const got = rx.got.filter((r) => r.path === "/flaky");
        return got.length >= 4 ? got : undefined;
      },
      30_000,
      "four deliveries to the flaky receiver",
    );
    assert.equal(flaky.length, 4, "three failures, then the delivery");
    assert.ok(
      flaky.every((r) => r.body === flaky[0]?.body),
      "the same message each time",
    );
    assert.equal((JSON.parse(flaky[0]?.body ?? "{}") as { Type: number }).Type, 0);
    assert.ok(
      succeededAt < (flaky[3]?.at ?? 0),
      "the deployment finished while the notification was still being retried",
    );
    assert.equal(d.trigger?.syncStrategy, "QUICK_SYNC");
    // The piped's metrics count the retries.
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    assert.match(
      metrics,
      /^pipecd_piped_notifications_total\{receiver="flaky",result="retried"\} 3$/m,
    );
    assert.match(
      metrics,
      /^pipecd_piped_notifications_total\{receiver="flaky",result="sent"\} [1-9]/m,
    );
    assert.match(
      metrics,
      /^pipecd_piped_notifications_total\{receiver="flaky",result="failed"\} 0$/m,
    );
  });

  // The pipelined deployment the next tests approve from Slack.
  let since = 0;
  let d: DeploymentJson;
  let stageId = "";
  let value = "";
  const stillWaiting = async () => {
    const cur = (await s.admin.call("getDeployment", { params: { id: d.id ?? "" } })).deployment;
    assert.equal(cur.stages?.find((st) => st.id === stageId)?.status, "STAGE_RUNNING");
  };

  it("a WAIT_APPROVAL message to Slack carries Approve and Reject buttons and the app's mentions", async () => {
    since = Date.now();
    await s.repo.commit({ "notify/deployment.yaml": files("v2")["notify/deployment.yaml"] }, "v2");
    d = await s.waitDeployment(
      appId,
      (x) =>
        x.stages?.some((st) => st.name === "WAIT_APPROVAL" && st.status === "STAGE_RUNNING") ??
        false,
      30_000,
      "waiting for approval",
    );
    stageId = d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.id ?? "";
    value = `${d.id}/${stageId}`;
    const waitMsg = await s.eventually(
      async () => {
        const r = rx.got.find(
          (x) =>
            x.path === "/slack-hook" &&
            x.at >= since &&
            x.body.includes("is waiting for an approval"),
        );
        return r ? (JSON.parse(r.body) as Slack) : undefined;
      },
      10_000,
      "the WAIT_APPROVAL message",
    );
    const field = (m: Slack, t: string) =>
      m.attachments[0]?.fields.find((f) => f.title === t)?.value;
    assert.equal(field(waitMsg, "Mention To Users"), "<@U0ONCALL>");
    assert.equal(field(waitMsg, "Mention To Groups"), "<!subteam^S0TEAM> <!subteam^S0SRE>");
    const buttons = waitMsg.blocks?.find((b) => b.type === "actions")?.elements ?? [];
    assert.deepEqual(
      buttons.map((b) => [b.action_id, b.value]),
      [
        ["pipecd_approve", `${d.id}/${stageId}`],
        ["pipecd_reject", `${d.id}/${stageId}`],
      ],
    );
  });

  it("a forged Slack request (signed with another secret) is refused with 401 and approves nothing", async () => {
    const res = await send(
      click({ action: "pipecd_approve", value, user: "U0REVIEWER", secret: "guess" }),
    );
    assert.equal(res.status, 401);
    assert.match(await res.text(), /X-Slack-Signature does not match/);
    await stillWaiting();
  });

  it("a signed request older than 5 minutes (an old one replayed) is refused with 401", async () => {
    const old = Math.floor(Date.now() / 1000) - 600;
    const res = await send(click({ action: "pipecd_approve", value, user: "U0REVIEWER", ts: old }));
    assert.equal(res.status, 401);
    await stillWaiting();
  });

  it("a Slack user not mapped to a user, or mapped to a viewer, is refused with 403 and told why", async () => {
    for (const user of ["U0STRANGER", "U0WATCHER"])
      assert.equal((await send(click({ action: "pipecd_approve", value, user }))).status, 403);
    await stillWaiting();
  });

  it("a signed click approves as the mapped user (the audit log names them, the message shows who); the same request again is refused with 409", async () => {
    const ok = click({ action: "pipecd_approve", value, user: "U0REVIEWER" });
    const res = await send(ok);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await send(ok)).status, 409, "a replayed request is refused");
    await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_SUCCESS",
      30_000,
      "success",
    );
    const audit = (await s.admin.call("listAuditLog", { query: {} })).entries;
    const entry = audit.find((e) => e.action === "stage.approve" && e.resourceId === d.id);
    assert.equal(entry?.actor, "reviewer", "the audit log names the mapped user");
    const update = await s.eventually(
      async () =>
        rx.got.find((r) => r.path === "/response" && r.body.includes('replace_original":true')),
      5_000,
      "the Slack message update",
    );
    assert.match(update.body, /Approved by reviewer \(Slack <@U0REVIEWER>\)/);
    assert.ok(
      rx.got.some((r) => r.path === "/response" && r.body.includes("is not mapped")),
      "the unmapped user was told why",
    );
  });

  it("the pipelined deployment sent PipeCD's sequence, in order, to Slack, to the webhook and to the OAuth receiver", async () => {
    await s.eventually(async () => slackTitles(since).length >= 6, 10_000, "six Slack messages");
    assert.deepEqual(slackTitles(since), [
      'Triggered a new deployment for "notify-app"',
      'Deployment for "notify-app" was planned',
      'Deployment for "notify-app" was started',
      'Deployment for "notify-app" is waiting for an approval',
      'Deployment for "notify-app" was approved',
      'Deployment for "notify-app" was completed successfully',
    ]);
    const hooks = await s.eventually(
      async () => {
        const got = rx.got.filter((r) => r.path === "/webhook" && r.at >= since);
        return got.length >= 4 ? got : undefined;
      },
      10_000,
      "four webhook deliveries",
    );
    assert.deepEqual(
      hooks.map((h) => (JSON.parse(h.body) as { Type: number }).Type),
      [0, 7, 2, 4],
      "TRIGGERED, WAIT_APPROVAL, APPROVED, SUCCEEDED; the route ignoring env=prod sent nothing",
    );
    assert.ok(hooks.every((h) => h.headers["pipecd-signature"] === WEBHOOK_SIGNATURE));
    // The OAuth receiver posts with the bot token to Slack's Web API, in its channel.
    const bot = await s.eventually(
      async () =>
        rx.got.find(
          (r) =>
            r.path === "/api/chat.postMessage" &&
            r.at >= since &&
            r.body.includes("completed successfully"),
        ),
      10_000,
      "the bot's message",
    );
    assert.equal(bot.headers.authorization, "Bearer xoxb-test-token");
    assert.equal((JSON.parse(bot.body) as { channel: string }).channel, "C0DEPLOYS");
    const approved = JSON.parse(hooks[2]?.body ?? "{}") as {
      Metadata: { approver?: string; deployment?: { id: string; application_name: string } };
    };
    assert.equal(approved.Metadata.approver, "reviewer");
    assert.equal(approved.Metadata.deployment?.id, d.id);
    assert.equal(approved.Metadata.deployment?.application_name, "notify-app");
  });
});
