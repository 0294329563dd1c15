// The `metajudge` executable. Bundled apart from main.ts so that the commands main.ts import()s on
// demand (remote, try, batch submit, serve-local) land in chunks of their own, parsed only when run.
import { runMain } from "./main.js";

runMain();
