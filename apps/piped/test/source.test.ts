import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseApplicationConfig } from "@pipecd-ts/config";
import { hybridDecrypt, hybridEncrypt, parseSecretKeyPair } from "@pipecd-ts/runtime/hybrid";
import { renderGoTemplate } from "../src/source/gotemplate.js";
import { processAppSource } from "../src/source/process.js";
import { REDACTED, Redactor } from "../src/source/redactor.js";

describe("Go template subset (what PipeCD users write in decryption and attachment targets)", () => {
  const data = { encryptedSecrets: { password: "hunter2", user: "admin" }, attachment: {} };
  const render = (t: string) => renderGoTemplate("f.yaml", t, data);

  it("fields, pipelines, function calls, literals, trimming and comments", () => {
    assert.equal(render("p: {{ .encryptedSecrets.password }}"), "p: hunter2");
    assert.equal(render("p: {{ .encryptedSecrets.password | b64enc }}"), "p: aHVudGVyMg==");
    assert.equal(render("p: {{ b64enc .encryptedSecrets.password | quote }}"), 'p: "aHVudGVyMg=="');
    assert.equal(render('{{ upper (lower "Ab") }}'), "AB");
    assert.equal(render('{{ .encryptedSecrets.user | default "x" | squote }}'), "'admin'");
    assert.equal(render("a:\n  {{- .encryptedSecrets.user -}}  \nb"), "a:adminb");
    assert.equal(render("x{{/* a comment */}}y"), "xy");
    assert.equal(render("{{ .encryptedSecrets.user | nindent 2 }}"), "\n  admin");
  });

  it("refuses what it cannot do, naming the file and line, never printing the data", () => {
    assert.throws(
      () => render("a\n{{ .encryptedSecrets.nope }}"),
      /f\.yaml:2: template: map has no entry for key "nope"/,
    );
    assert.throws(() => render("{{ if .x }}y{{ end }}"), /"if" is not supported/);
    assert.throws(() => render("{{ $x := 1 }}"), /variables \(\$x\) are not supported/);
    assert.throws(() => render("{{ nosuch .x }}"), /function "nosuch" not defined/);
    assert.throws(() => render("{{ .encryptedSecrets.password"), /unclosed action/);
    try {
      render("{{ .encryptedSecrets.password.deeper }}");
      assert.fail("expected an error");
    } catch (err) {
      assert.match((err as Error).message, /can't evaluate field deeper/);
      assert.ok(!(err as Error).message.includes("hunter2"));
    }
  });
});

describe("processAppSource (PipeCD sourceprocesser) on a real checkout", () => {
  const keys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const pair = parseSecretKeyPair(keys.privateKey, keys.publicKey);
  const decrypt = (c: string) => hybridDecrypt(pair.privateKey, c).toString("utf8");
  const appConfig = (spec: string) =>
    parseApplicationConfig(
      "app.pipecd.yaml",
      `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n${spec}`,
    );

  const setup = async () => {
    const repo = await mkdtemp(join(tmpdir(), "source-"));
    const app = join(repo, "app");
    await mkdir(app);
    await writeFile(
      join(app, "secret.yaml"),
      "kind: Secret\ndata:\n  password: {{ .encryptedSecrets.password | b64enc }}\nstringData:\n  user: {{ .encryptedSecrets.user }}\n",
    );
    await writeFile(join(app, "config.txt"), "level=debug\n");
    await writeFile(join(app, "cm.yaml"), "data:\n  config: {{ .attachment.config | quote }}\n");
    await writeFile(join(repo, "outside.yaml"), "x: 1\n");
    return { repo, app };
  };

  it("decrypts into the targets, then inlines attachments; every plaintext is redacted", async () => {
    const { repo, app } = await setup();
    try {
      const redactor = new Redactor();
      const config = appConfig(`  encryption:
    encryptedSecrets:
      password: ${hybridEncrypt(pair.publicKey, "hunter2-pw")}
      user: ${hybridEncrypt(pair.publicKey, "root-user")}
    decryptionTargets: [secret.yaml]
  attachment:
    sources: { config: config.txt }
    targets: [cm.yaml]
`);
      assert.deepEqual(config.warnings, [], "encryption and attachment are implemented");
      await processAppSource({ appDir: app, repoDir: repo, config, decrypt, redactor });
      assert.equal(
        await readFile(join(app, "secret.yaml"), "utf8"),
        `kind: Secret\ndata:\n  password: ${Buffer.from("hunter2-pw").toString("base64")}\nstringData:\n  user: root-user\n`,
      );
      assert.equal(
        await readFile(join(app, "cm.yaml"), "utf8"),
        'data:\n  config: "level=debug\\n"\n',
      );
      assert.equal(
        redactor.redact(
          `pw hunter2-pw b64 ${Buffer.from("hunter2-pw").toString("base64")} root-user`,
        ),
        `pw ${REDACTED} b64 ${REDACTED} ${REDACTED}`,
      );
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });

  it("refuses: no key on the piped, a ciphertext for another key, a target outside the repository", async () => {
    const { repo, app } = await setup();
    try {
      const enc = (target: string, c = hybridEncrypt(pair.publicKey, "pw")) =>
        appConfig(
          `  encryption:\n    encryptedSecrets: { password: ${c} }\n    decryptionTargets: [${target}]\n`,
        );
      const redactor = new Redactor();
      await assert.rejects(
        processAppSource({ appDir: app, repoDir: repo, config: enc("secret.yaml"), redactor }),
        /no secretManagement/,
      );
      const other = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      });
      const foreign = hybridEncrypt(
        parseSecretKeyPair(other.privateKey, other.publicKey).publicKey,
        "pw",
      );
      await assert.rejects(
        processAppSource({
          appDir: app,
          repoDir: repo,
          config: enc("secret.yaml", foreign),
          decrypt,
          redactor,
        }),
        /failed to decrypt the secret "password".*not made for this piped's key/,
      );
      await symlink("/etc/passwd", join(app, "link.yaml"));
      for (const target of ["../../etc/passwd", "link.yaml"])
        await assert.rejects(
          processAppSource({ appDir: app, repoDir: repo, config: enc(target), decrypt, redactor }),
          /references outside the repository/,
        );
      assert.match(
        await readFile(join(app, "secret.yaml"), "utf8"),
        /\{\{ \.encryptedSecrets\.password/,
        "untouched",
      );
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});
