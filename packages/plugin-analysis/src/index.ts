export type { DataPoint, MetricsProvider, QueryRange } from "./types.js";
export { NoDataError } from "./types.js";
export {
  AnalysisExecutor,
  AnalysisMetadataKey,
  MAX_SAMPLES,
  type AnalysisExecutorOptions,
  type AnalyzerSpec,
  type Sample,
} from "./executor.js";
export { evaluateHttp, evaluateMetrics, expectedText, type Verdict } from "./analyzer.js";
export { PrometheusProvider, prometheusProviderFromConfig } from "./providers/prometheus.js";
export { DatadogProvider, datadogProviderFromConfig } from "./providers/datadog.js";
export { httpCheck } from "./providers/http.js";
export { compare, type CompareResult, type Deviation } from "./compare.js";
export { renderQuery, type QueryData } from "./query.js";
export {
  SamplesEqualError,
  mannWhitneyUTest,
  type LocationHypothesis,
  type MannWhitneyResult,
} from "./mannwhitney.js";
