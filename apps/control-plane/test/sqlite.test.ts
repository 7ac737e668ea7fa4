import { controlPlaneSuite } from "./suite.js";

controlPlaneSuite("sqlite", async () => undefined);
