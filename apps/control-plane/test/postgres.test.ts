import { after } from "node:test";
import { startPostgres, type PgCluster } from "@pipecd-ts/testkit";
import { controlPlaneSuite } from "./suite.js";

let pg: PgCluster | undefined;
after(async () => pg?.stop());
controlPlaneSuite("postgres", async () => {
  pg = await startPostgres();
  return pg.createDatabase();
});
