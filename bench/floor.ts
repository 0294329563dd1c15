// The floor under `metajudge pairs`: read the three record files and JSON.parse every line, keeping
// nothing. It calls the store's own readJsonl with a no-op callback, so the reading (4 MiB chunks,
// one UTF-8 decode and one JSON.parse per line) is exactly what pairs pays before doing any work of
// its own; the ratio between the two is then the cost of pair selection alone.
import { readJsonl } from "../src/core/store/jsonl.js";

async function main(files: string[]): Promise<void> {
  let lines = 0;
  for (const file of files) lines += (await readJsonl(file, () => {})).lines;
  process.stdout.write(JSON.stringify({ type: "floor", lines }) + "\n");
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`floor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
