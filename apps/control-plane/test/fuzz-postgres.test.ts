import { after } from "node:test";
import { startPostgres, type PgCluster } from "@pipecd-ts/testkit";
import { fuzzSuite } from "./fuzz.js";

let pg: PgCluster | undefined;
after(async () => pg?.stop());
fuzzSuite("postgres", async () => {
  pg = await startPostgres();
  return pg.createDatabase();
});
