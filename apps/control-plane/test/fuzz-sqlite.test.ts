import { fuzzSuite } from "./fuzz.js";

fuzzSuite("sqlite", async () => undefined);
