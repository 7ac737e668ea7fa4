import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  loadPipedConfig,
  parsePipedConfig,
  redactPipedConfig,
  redactRemote,
  type PipedConfig,
} from "@pipecd-ts/config";
import { TESTDATA, configError, fixture, minimalPiped } from "./helpers.js";

describe("piped config with pipedKeyFile (PipeCD's own example)", () => {
  const file = join(TESTDATA, "piped-keyfile.yaml");

  it("loads the key from the file next to the config, trimmed", async () => {
    const cfg = await loadPipedConfig(file);
    assert.equal(cfg.pipedKey, "piped-key-from-file");
    assert.equal(cfg.pipedKeyFile, join(TESTDATA, "piped.key"));
    assert.ok(Object.isFrozen(cfg));
  });

  it("parse alone resolves the key path but leaves the key for load to read", () => {
    const cfg = parsePipedConfig(file, fixture("piped-keyfile.yaml"));
    assert.equal(cfg.pipedKey, "");
    assert.equal(cfg.pipedKeyFile, join(TESTDATA, "piped.key"));
  });

  it("reads ids, addresses, intervals, repositories and the app selector", async () => {
    const cfg = await loadPipedConfig(file);
    assert.equal(cfg.projectID, "test-project");
    assert.equal(cfg.pipedID, "test-piped");
    assert.equal(cfg.apiAddress, "your-pipecd.domain:443");
    assert.equal(cfg.webAddress, "https://your-pipecd.domain");
    assert.equal(cfg.syncIntervalMs, 60_000);
    assert.equal(cfg.appConfigSyncIntervalMs, 60_000);
    assert.deepEqual(cfg.repositories, [
      { repoId: "repo1", remote: "git@github.com:org/repo1.git", branch: "master" },
      { repoId: "repo2", remote: "git@github.com:org/repo2.git", branch: "master" },
    ]);
    assert.deepEqual(cfg.appSelector, { env: "dev" });
  });

  it("reads KUBERNETES platform providers; a relative kubeConfigPath is resolved", async () => {
    const cfg = await loadPipedConfig(file);
    assert.deepEqual(cfg.platformProviders, [
      {
        name: "kubernetes-default",
        type: "KUBERNETES",
        labels: { group: "workload" },
        config: {
          masterURL: "https://example.com",
          kubeConfigPath: "/etc/kube/config",
          kubectlVersion: "",
          appStateInformer: {
            namespace: "",
            includeResources: [
              { apiVersion: "pipecd.dev/v1beta1", kind: "" },
              { apiVersion: "networking.gke.io/v1beta1", kind: "ManagedCertificate" },
            ],
            excludeResources: [{ apiVersion: "v1", kind: "Endpoints" }],
          },
        },
      },
      {
        name: "kubernetes-dev",
        type: "KUBERNETES",
        labels: { group: "config" },
        config: {
          masterURL: "",
          kubeConfigPath: join(TESTDATA, "kube/dev.yaml"),
          kubectlVersion: "",
          appStateInformer: { namespace: "", includeResources: [], excludeResources: [] },
        },
      },
    ]);
  });

  it("reads chart repositories and registries (PipeCD's fields), and redacts their passwords", async () => {
    const cfg = await loadPipedConfig(file);
    const none = { username: "", password: "", insecure: false, gitRemote: "", sshKeyFile: "" };
    assert.deepEqual(cfg.chartRepositories, [
      {
        ...none,
        type: "HTTP",
        name: "fantastic-charts",
        address: "https://fantastic-charts.storage.googleapis.com",
      },
      {
        ...none,
        type: "HTTP",
        name: "private-charts",
        address: "https://private-charts.com",
        username: "basic-username",
        password: "basic-password",
        insecure: true,
      },
    ]);
    assert.deepEqual(cfg.chartRegistries, [
      {
        type: "OCI",
        address: "registry.example.com",
        username: "sample-username",
        password: "sample-password",
      },
    ]);
    const shown = JSON.stringify(redactPipedConfig(cfg));
    assert.doesNotMatch(shown, /basic-password|sample-password/);
    assert.throws(
      () =>
        parsePipedConfig(
          "piped.yaml",
          fixture("piped-keydata.yaml").replace(
            "spec:\n",
            "spec:\n  chartRepositories: [{ name: x }, { type: S3, name: y, address: z }]\n",
          ),
        ),
      /chartRepositories\[0\]\.address[\s\S]*chartRepositories\[1\]\.type: must be HTTP or GIT/,
    );
  });

  it("keeps the sections it does not interpret, frozen, with a warning for each that is set", async () => {
    const cfg = await loadPipedConfig(file);
    assert.equal(cfg.git?.username, "username");
    assert.equal(cfg.analysisProviders.length, 1);
    assert.deepEqual(
      cfg.notifications?.routes.map((r) => [r.name, r.receiver, r.labels]),
      [["dev-slack", "dev-slack-channel", { env: "dev" }]],
    );
    assert.equal(cfg.notifications?.receivers[0]?.slack?.hookURL, "https://slack.com/dev");
    assert.deepEqual(cfg.secretManagement, {
      type: "KEY_PAIR",
      privateKeyFile: "/etc/piped-secret/pair-private-key",
      privateKeyPem: "",
      publicKeyFile: "/etc/piped-secret/pair-public-key",
      publicKeyPem: "",
    });
    assert.equal(cfg.eventWatcher.checkIntervalMs, 600_000);
    assert.deepEqual(cfg.git, { username: "username", email: "username@email.com" });
    assert.equal(cfg.planPreview, undefined);
    assert.ok(Object.isFrozen(cfg.chartRepositories[0]));
    assert.deepEqual(
      cfg.warnings.map((w) => `${w.path}: ${w.message}`),
      [
        "spec.git.sshKeyFile: is not supported yet and has no effect",
        "spec.eventWatcher.gitRepos: is not supported yet and has no effect",
      ],
    );
  });
});

describe("piped config: maxConcurrentDeployments (pipecd-ts)", () => {
  const parse = (extra: string) =>
    parsePipedConfig(
      "piped.yaml",
      fixture("piped-keydata.yaml").replace("spec:\n", `spec:\n${extra}`),
    );
  it("defaults to 10, takes 1-1000, refuses anything else", () => {
    assert.equal(parse("").maxConcurrentDeployments, 10);
    assert.equal(parse("  maxConcurrentDeployments: 3\n").maxConcurrentDeployments, 3);
    assert.throws(
      () => parse("  maxConcurrentDeployments: 0\n"),
      /maxConcurrentDeployments: must be 1-1000, got 0/,
    );
  });
});

describe("piped config: secretManagement (PipeCD KEY_PAIR)", () => {
  const withSm = (sm: string) =>
    parsePipedConfig(
      "/etc/piped/piped.yaml",
      fixture("piped-keydata.yaml").replace("spec:\n", `spec:\n${sm}`),
    );

  it("takes each key as a file (resolved against the config's directory) or as base64 data", () => {
    const b64 = Buffer.from("-----BEGIN PUBLIC KEY-----\nx\n").toString("base64");
    const cfg = withSm(`  secretManagement:
    type: KEY_PAIR
    config: { privateKeyFile: keys/private.pem, publicKeyData: ${b64} }
`);
    assert.deepEqual(cfg.secretManagement, {
      type: "KEY_PAIR",
      privateKeyFile: "/etc/piped/keys/private.pem",
      privateKeyPem: "",
      publicKeyFile: "",
      publicKeyPem: "-----BEGIN PUBLIC KEY-----\nx\n",
    });
  });

  it("refuses GCP_KMS (not implemented, as in PipeCD), other types, and neither or both of a key's forms", () => {
    assert.throws(
      () => withSm("  secretManagement: { type: GCP_KMS, config: {} }\n"),
      /secretManagement\.type: type "GCP_KMS" is not implemented yet/,
    );
    assert.throws(
      () => withSm("  secretManagement: { type: SEALED, config: {} }\n"),
      /secretManagement\.type: must be KEY_PAIR, got "SEALED"/,
    );
    assert.throws(
      () =>
        withSm(
          "  secretManagement: { type: KEY_PAIR, config: { privateKeyFile: a, privateKeyData: YQ==, colour: red } }\n",
        ),
      /config\.colour: unknown field[\s\S]*exactly one of privateKeyFile and privateKeyData[\s\S]*exactly one of publicKeyFile and publicKeyData/,
    );
  });
});

describe("piped config: analysisProviders", () => {
  it("reads PROMETHEUS and DATADOG providers; refuses STACKDRIVER, unknown types and half-set credentials", () => {
    const cfg = parsePipedConfig(
      "piped.yaml",
      minimalPiped(`  analysisProviders:
    - name: prom
      type: PROMETHEUS
      config: { address: http://prom:9090, usernameFile: /u, passwordFile: /p }
    - name: dd
      type: DATADOG
      config: { apiKeyFile: /k, applicationKeyData: YWJj }
`),
    );
    assert.deepEqual(cfg.analysisProviders, [
      {
        name: "prom",
        type: "PROMETHEUS",
        address: "http://prom:9090",
        usernameFile: "/u",
        passwordFile: "/p",
        tokenFile: "",
      },
      {
        name: "dd",
        type: "DATADOG",
        address: "datadoghq.com",
        apiKeyFile: "/k",
        applicationKeyFile: "",
        apiKeyData: "",
        applicationKeyData: "YWJj",
      },
    ]);
    const err = configError(() =>
      parsePipedConfig(
        "piped.yaml",
        minimalPiped(`  analysisProviders:
    - { name: sd, type: STACKDRIVER, config: {} }
    - { name: x, type: INFLUX, config: {} }
    - { name: p2, type: PROMETHEUS, config: { address: http://p, usernameFile: /u } }
`),
      ),
    );
    assert.match(err.message, /analysisProviders\[0\]\.type: STACKDRIVER is not supported/);
    assert.match(err.message, /analysisProviders\[1\]\.type: must be PROMETHEUS or DATADOG/);
    assert.match(
      err.message,
      /analysisProviders\[2\]\.config: usernameFile and passwordFile go together/,
    );
  });
});

describe("piped config with pipedKeyData", () => {
  it("decodes the base64 key; deprecated cloudProviders become platform providers", () => {
    const cfg = parsePipedConfig("piped.yaml", fixture("piped-keydata.yaml"));
    assert.equal(cfg.pipedKey, "piped-key-from-data");
    assert.equal(cfg.pipedKeyFile, "");
    assert.equal(cfg.syncIntervalMs, 30_000);
    assert.equal(cfg.appConfigSyncIntervalMs, 120_000);
    assert.equal(cfg.apiAddress, "pipecd.pipecd.svc.cluster.local:8080");
    assert.deepEqual(cfg.platformProviders, [
      {
        name: "kubernetes",
        type: "KUBERNETES",
        labels: {},
        config: {
          masterURL: "",
          kubeConfigPath: "",
          kubectlVersion: "",
          appStateInformer: { namespace: "", includeResources: [], excludeResources: [] },
        },
      },
    ]);
  });

  it("load returns the same config as parse", async () => {
    const loaded = await loadPipedConfig(join(TESTDATA, "piped-keydata.yaml"));
    assert.equal(loaded.pipedKey, "piped-key-from-data");
  });

  it("redacts the key for logging", () => {
    const cfg = parsePipedConfig("piped.yaml", fixture("piped-keydata.yaml"));
    const safe = redactPipedConfig(cfg);
    assert.equal(safe.pipedKey, "******");
    assert.ok(!JSON.stringify(safe).includes("piped-key-from-data"));
    assert.equal(cfg.pipedKey, "piped-key-from-data");
  });

  it("drops credentials from the remotes it logs, keeping the rest of each remote", () => {
    const text = `apiVersion: pipecd.dev/v1beta1
kind: Piped
spec:
  projectID: p
  pipedID: id
  pipedKeyData: ${Buffer.from("k").toString("base64")}
  apiAddress: cp:9080
  repositories:
    - { repoId: a, remote: "https://bot:ghp_s3cret@github.com/org/a.git", branch: main }
    - { repoId: b, remote: "https://ghp_tokenOnly@github.com/org/b.git", branch: main }
    - { repoId: c, remote: "git@github.com:org/c.git", branch: main }
    - { repoId: d, remote: "ssh://git:pw@git.example.com:2222/org/d.git", branch: main }
`;
    const cfg = parsePipedConfig("piped.yaml", text);
    const safe = redactPipedConfig(cfg);
    assert.deepEqual(
      safe.repositories.map((r) => r.remote),
      [
        "https://github.com/org/a.git",
        "https://github.com/org/b.git",
        "git@github.com:org/c.git",
        "ssh://git.example.com:2222/org/d.git",
      ],
    );
    const logged = JSON.stringify(safe);
    for (const secret of ["ghp_s3cret", "ghp_tokenOnly", ":pw@"])
      assert.ok(!logged.includes(secret), `${secret} is not logged`);
    assert.equal(cfg.repositories[0]?.remote, "https://bot:ghp_s3cret@github.com/org/a.git");
    assert.equal(redactRemote("/srv/git/apps.git"), "/srv/git/apps.git");
    assert.equal(redactRemote("https://u:p%40ss@h/r.git?x=1"), "https://h/r.git?x=1");
  });
});

describe("piped apiAddress", () => {
  it("takes one address, a dns:/// target, or a comma-separated list of replicas", () => {
    for (const address of [
      "localhost:9443",
      "[::1]:9443",
      "dns:///pipecd.example.com:443",
      "cp-0.example.com:443,cp-1.example.com:443",
      "127.0.0.1:9001, 127.0.0.1:9002",
    ]) {
      const cfg = parsePipedConfig(
        "piped.yaml",
        minimalPiped().replace("localhost:9443", JSON.stringify(address)),
      );
      assert.equal(cfg.apiAddress, address);
    }
  });
});

describe("piped config errors", () => {
  it("lists every problem with path and line, never echoing the key", () => {
    const err = configError(() => parsePipedConfig("piped.yaml", fixture("piped-invalid.yaml")));
    const want: [string, number, RegExp][] = [
      ["spec.projectID", 3, /is required/],
      ["spec.pipedKeyData", 6, /only one of pipedKeyFile and pipedKeyData/],
      ["spec.apiAddress", 7, /must be host:port/],
      ["spec.syncInterval", 8, /must be a duration/],
      ["spec.repositories[1].repoId", 13, /duplicate repoId "repo1"/],
      ["spec.repositories[1].branch", 13, /is required/],
      ["spec.platformProviders[0].type", 17, /TERRAFORM is not supported: only KUBERNETES/],
      ["spec.platformProviders[1].config.kubeconfig", 23, /unknown field/],
      ["spec.hello", 24, /unknown field/],
    ];
    assert.deepEqual(
      err.issues.map((i) => `${i.path} @${i.line}`),
      want.map(([p, l]) => `${p} @${l}`),
      "the exact issues, in file order",
    );
    for (const [path, , message] of want)
      assert.match(err.issues.find((i) => i.path === path)?.message ?? "", message, path);
    assert.ok(!err.message.includes("c2VjcmV0LWtleQ"), "key data is not echoed");
    assert.ok(!err.message.includes("secret-key"), "decoded key is not echoed");
  });

  const table: [name: string, yaml: string, path: string, message: RegExp][] = [
    [
      "no key at all",
      minimalPiped().replace("  pipedKeyData: a2V5\n", ""),
      "spec",
      /either pipedKeyFile or pipedKeyData/,
    ],
    [
      "key data that is not base64",
      minimalPiped().replace("a2V5", "not base64!"),
      "spec.pipedKeyData",
      /must be base64/,
    ],
    [
      "missing pipedID",
      minimalPiped().replace("  pipedID: d\n", ""),
      "spec.pipedID",
      /is required/,
    ],
    [
      "missing apiAddress",
      minimalPiped().replace("  apiAddress: localhost:9443\n", ""),
      "spec.apiAddress",
      /is required/,
    ],
    [
      "apiAddress without a port",
      minimalPiped().replace("localhost:9443", "pipecd.example.com"),
      "spec.apiAddress",
      /host:port/,
    ],
    [
      "port out of range",
      minimalPiped().replace("localhost:9443", "localhost:70000"),
      "spec.apiAddress",
      /host:port/,
    ],
    [
      "a list with one address without a port",
      minimalPiped().replace("localhost:9443", "cp-0:9443, cp-1"),
      "spec.apiAddress",
      /every comma-separated address must be host:port .*not: "cp-1"/,
    ],
    [
      "a dns target with a DNS server authority",
      minimalPiped().replace("localhost:9443", "dns://8.8.8.8/cp:9443"),
      "spec.apiAddress",
      /must be dns:\/\/\/host:port/,
    ],
    [
      "wrong kind",
      minimalPiped().replace("kind: Piped", "kind: ControlPlane"),
      "kind",
      /must be "Piped"/,
    ],
    [
      "unknown provider type",
      minimalPiped("  platformProviders:\n    - name: x\n      type: NOMAD\n"),
      "spec.platformProviders[0].type",
      /unknown platform provider type "NOMAD"/,
    ],
    [
      "duplicate provider names across platformProviders and cloudProviders",
      minimalPiped(
        "  platformProviders:\n    - {name: k, type: KUBERNETES}\n  cloudProviders:\n    - {name: k, type: KUBERNETES}\n",
      ),
      "spec.cloudProviders[0].name",
      /duplicate platform provider name "k" \(also platformProviders\[0\]\)/,
    ],
    [
      "repository without remote",
      minimalPiped("  repositories:\n    - {repoId: r, branch: main}\n"),
      "spec.repositories[0].remote",
      /is required/,
    ],
  ];
  for (const [name, yaml, path, message] of table) {
    it(`rejects ${name}`, () => {
      const err = configError(() => parsePipedConfig("piped.yaml", yaml));
      const issue = err.issues.find((i) => i.path === path);
      assert.ok(issue, `an issue at "${path}", got ${JSON.stringify(err.issues)}`);
      assert.match(issue.message, message);
    });
  }

  it("accepts IPv6 and IPv4 api addresses", () => {
    for (const addr of ["[::1]:443", "10.0.0.1:8080", "pipecd:443"]) {
      const cfg: PipedConfig = parsePipedConfig(
        "p.yaml",
        minimalPiped().replace("localhost:9443", `"${addr}"`),
      );
      assert.equal(cfg.apiAddress, addr);
    }
  });

  it("load fails with the key file's path when it is missing or empty", async () => {
    const dir = mkdtempSync(join(tmpdir(), "piped-config-"));
    try {
      const cfgFile = join(dir, "piped.yaml");
      writeFileSync(
        cfgFile,
        minimalPiped().replace("pipedKeyData: a2V5", "pipedKeyFile: keys/piped"),
      );
      await assert.rejects(
        loadPipedConfig(cfgFile),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues[0]?.path === "spec.pipedKeyFile" &&
          e.message.includes(join(dir, "keys/piped")) &&
          /ENOENT/.test(e.message),
      );
      writeFileSync(join(dir, "empty.key"), " \n");
      writeFileSync(
        cfgFile,
        minimalPiped().replace("pipedKeyData: a2V5", "pipedKeyFile: empty.key"),
      );
      await assert.rejects(loadPipedConfig(cfgFile), /empty\.key is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("piped config: notifications (PipeCD §5.1)", () => {
  const parse = (notifications: string) =>
    parsePipedConfig(
      "piped.yaml",
      fixture("piped-keydata.yaml").replace("spec:\n", `spec:\n  notifications:\n${notifications}`),
    );

  it("reads routes and receivers: event names with or without EVENT_, mentions normalised, webhook defaults", () => {
    const cfg = parse(`    routes:
      - name: prod
        receiver: chat
        events: [DEPLOYMENT_TRIGGERED, EVENT_DEPLOYMENT_FAILED]
        ignoreGroups: [STAGE]
        apps: [web]
        labels: { env: prod }
      - { name: ci, receiver: hook }
    receivers:
      - name: chat
        slack:
          channelID: C123
          oauthTokenData: ${Buffer.from("xoxb-1").toString("base64")}
          mentionedAccounts: ["@u1", u2]
          mentionedGroups: [g1, "<!subteam^g2>"]
      - name: hook
        webhook: { url: "http://ci.example/hook" }
`);
    const n = cfg.notifications!;
    assert.deepEqual(n.routes[0]?.events, ["DEPLOYMENT_TRIGGERED", "DEPLOYMENT_FAILED"]);
    assert.deepEqual(n.routes[0]?.ignoreGroups, ["STAGE"]);
    assert.deepEqual(n.receivers[0]?.slack?.mentionedAccounts, ["u1", "u2"]);
    assert.deepEqual(n.receivers[0]?.slack?.mentionedGroups, ["<!subteam^g1>", "<!subteam^g2>"]);
    assert.equal(n.receivers[0]?.slack?.oauthToken, "xoxb-1");
    assert.deepEqual(n.receivers[1]?.webhook, {
      url: "http://ci.example/hook",
      signatureKey: "PipeCD-Signature",
      signatureValue: "",
      signatureValueFile: "",
    });
    assert.deepEqual(cfg.warnings, []);
    const shown = JSON.stringify(redactPipedConfig(cfg));
    assert.doesNotMatch(shown, /xoxb-1/, "the Slack token is not shown");
    const hook = parse(`    receivers:
      - { name: h, slack: { hookURL: "https://hooks.slack.com/services/T0/B0/s3cr3t" } }
      - { name: w, webhook: { url: "http://ci.example", signatureValue: sig-v4lue } }
`);
    const shownHook = JSON.stringify(redactPipedConfig(hook));
    assert.doesNotMatch(
      shownHook,
      /s3cr3t|sig-v4lue/,
      "hook URLs and signature values are not shown",
    );
    assert.match(shownHook, /https:\/\/hooks\.slack\.com\/\*\*\*\*\*\*/);
  });

  it("refuses an unknown receiver, an unknown event, a Slack receiver without a way to post and a hookURL with a token, naming each", () => {
    let err: unknown;
    try {
      parse(`    routes:
      - { name: a, receiver: nope, events: [DEPLOYMENT_EXPLODED] }
    receivers:
      - { name: s1, slack: { channelID: C1 } }
      - { name: s2, slack: { hookURL: "https://hooks.slack.com/x", oauthToken: t } }
      - { name: w, webhook: { url: ftp://x, signatureValue: a, signatureValueFile: b } }
`);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      "spec.notifications.receivers[0].slack",
      "spec.notifications.receivers[1].slack",
      "spec.notifications.receivers[2].webhook",
      "spec.notifications.receivers[2].webhook.url",
      "spec.notifications.routes[0].events[0]",
      "spec.notifications.routes[0].receiver",
    ]);
  });
});
