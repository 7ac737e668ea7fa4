export { freePort } from "./ports.js";
export { startPostgres, type PgCluster } from "./postgres.js";
