import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { type QueryData, renderQuery } from "../src/query.js";

const data: QueryData = {
  App: { Name: "app-1", Env: "" },
  K8s: { Namespace: "default" },
  Variant: { Name: "canary" },
  VariantCustomArgs: { pod: "1234" },
  AppCustomArgs: { id: "xxxx" },
};

function renderError(template: string): InvalidArgumentError {
  try {
    renderQuery(template, data);
  } catch (err) {
    assert.ok(
      err instanceof InvalidArgumentError,
      `expected InvalidArgumentError, got ${String(err)}`,
    );
    return err;
  }
  assert.fail(`rendering ${JSON.stringify(template)} should have failed`);
}

describe("renderQuery (PipeCD metricsAnalyzer.renderQuery, Go text/template)", () => {
  it("fills built-in and custom args (PipeCD's Test_metricsAnalyzer_renderQuery)", () => {
    assert.equal(renderQuery('variant="{{ .Variant.Name }}"', data), 'variant="canary"');
    assert.equal(
      renderQuery(
        'variant="{{ .Variant.Name }}", app="{{ .App.Name }}", pod="{{ .VariantCustomArgs.pod }}", id="{{ .AppCustomArgs.id }}"',
        data,
      ),
      'variant="canary", app="app-1", pod="1234", id="xxxx"',
    );
  });

  it("accepts field references with or without spaces and leaves other braces alone", () => {
    const q = 'sum(rate(http_requests_total{namespace="{{.K8s.Namespace}}",status=~"5.."}[5m]))';
    assert.equal(
      renderQuery(q, data),
      'sum(rate(http_requests_total{namespace="default",status=~"5.."}[5m]))',
    );
    assert.equal(renderQuery("env=[{{ .App.Env }}] }}", data), "env=[] }}");
    assert.equal(renderQuery("no actions at all", data), "no actions at all");
  });

  it("prints <no value> for a key missing from a map, as Go's default missingkey does", () => {
    assert.equal(renderQuery('job="{{ .VariantCustomArgs.job }}"', data), 'job="<no value>"');
    assert.equal(renderQuery("{{ .AppCustomArgs.constructor }}", data), "<no value>");
    assert.equal(renderQuery("{{ .AppCustomArgs.a.b }}", data), "<no value>");
  });

  it("fails on a field the data does not have, naming it like Go does", () => {
    // PipeCD's own testdata uses {{ .Args.namespace }}, which Go refuses to execute.
    assert.equal(
      renderError('ns="{{ .Args.namespace }}"').message,
      'failed to apply template: template: AnalysisTemplate:1:12: executing "AnalysisTemplate" ' +
        "at <.Args.namespace>: can't evaluate field Args in type analysis.argsTemplate",
    );
    assert.equal(
      renderError("a\n  b{{.App.Foo}}").message,
      'failed to apply template: template: AnalysisTemplate:2:9: executing "AnalysisTemplate" ' +
        "at <.App.Foo>: can't evaluate field Foo in type analysis.appArgs",
    );
    assert.match(
      renderError("{{ .VariantCustomArgs.pod.x }}").message,
      /can't evaluate field x in type string$/,
    );
    assert.match(
      renderError("{{ .app }}").message,
      /AnalysisTemplate:1:3: .*can't evaluate field app in type analysis\.argsTemplate$/,
    );
  });

  it("trims whitespace beside {{- and -}} markers", () => {
    assert.equal(renderQuery("a  \n\t{{- .Variant.Name -}}  \n b", data), "acanaryb");
    assert.equal(renderQuery("a {{- .Variant.Name }} b", data), "acanary b");
    assert.equal(renderQuery("a {{ .Variant.Name -}} b", data), "a canaryb");
    // Without the space the dash is not a trim marker.
    assert.match(renderError("a {{-.Variant.Name}}").message, /only field references/);
  });

  it("drops comments", () => {
    assert.equal(renderQuery("a {{/* note */}}b", data), "a b");
    assert.equal(renderQuery("a {{- /* note */ -}} b", data), "ab");
    assert.match(renderError("{{/* note */ .X}}").message, /comment ends before closing delimiter/);
  });

  it("refuses every other action, saying only field references are supported", () => {
    for (const q of [
      '{{ .Variant.Name | printf "%q" }}',
      "{{ if .Variant.Name }}x{{ end }}",
      "{{ range .VariantCustomArgs }}x{{ end }}",
      "{{ len .VariantCustomArgs }}",
      "{{ $x := 1 }}",
      '{{ "literal" }}',
      "{{ }}",
    ]) {
      assert.match(
        renderError(q).message,
        /^failed to parse query template: template: AnalysisTemplate:1:\d+: unsupported action .*only field references such as \{\{ \.VariantCustomArgs\.key \}\} are supported$/,
        q,
      );
    }
  });

  it("fails on an unclosed action or comment", () => {
    assert.equal(
      renderError("up\n{{ .App.Name").message,
      "failed to parse query template: template: AnalysisTemplate:2: unclosed action",
    );
    assert.match(renderError("{{/* open").message, /unclosed comment$/);
  });

  it("prints whole structs and maps as Go's fmt does", () => {
    assert.equal(renderQuery("{{ .App }}", data), "{app-1 }");
    assert.equal(
      renderQuery("{{ .VariantCustomArgs }}", { ...data, VariantCustomArgs: { b: "2", a: "1" } }),
      "map[a:1 b:2]",
    );
    assert.equal(
      renderQuery("{{ . }}", data),
      "{{app-1 } {default} {canary} map[pod:1234] map[id:xxxx]}",
    );
  });
});
