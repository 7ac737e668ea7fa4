/** One sample of a metric: when (unix ms) and its value. */
export interface DataPoint {
  readonly timestamp: number;
  readonly value: number;
}

/** The window a query covers: `[from, to]`. */
export interface QueryRange {
  readonly from: Date;
  readonly to: Date;
}

/**
 * A metrics backend (PipeCD `analysisprovider/metrics`): runs one query over a window and
 * returns its points (every series flattened, in the backend's order). Throws
 * {@link NoDataError} when the backend says there is no data; any other failure is an Error
 * whose message names the backend and says what went wrong (never a secret).
 */
export interface MetricsProvider {
  /** `PROMETHEUS` or `DATADOG`. */
  readonly type: string;
  query(
    query: string,
    range: QueryRange,
    o: { signal: AbortSignal; timeoutMs: number },
  ): Promise<DataPoint[]>;
}

/** The backend answered but had no data points (PipeCD `ErrNoDataFound`). */
export class NoDataError extends Error {
  constructor(message = "no data found") {
    super(message);
    this.name = "NoDataError";
  }
}
