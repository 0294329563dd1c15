// One warning per record file for lines that repeat an id: the loaders already skip them (the first
// record of an id counts), but a person should learn the file holds them, once, not once a line.
import type { OnRepeat } from "../../store/records.js";
import type { RunContext } from "../context.js";

export interface RepeatWarning {
  onRepeat: OnRepeat;
  /** Emits the warning when any repeat was met. */
  flush(): void;
}

export function repeatWarning(ctx: Pick<RunContext, "emit" | "experimentDir">, file: string): RepeatWarning {
  let count = 0;
  let firstLine = 0;
  let firstId = "";
  return {
    onRepeat(id, line) {
      if (count++ === 0) {
        firstLine = line;
        firstId = id;
      }
    },
    flush() {
      if (count === 0) return;
      ctx.emit({
        type: "warning",
        message:
          `${file}:${firstLine}: repeats id ${JSON.stringify(firstId)}` +
          (count > 1 ? ` (and ${count - 1} more ${count === 2 ? "line repeats" : "lines repeat"} an earlier id)` : "") +
          `; the first record of an id counts and the repeats are ignored. \`metajudge validate ${ctx.experimentDir}\` lists them`,
      });
    },
  };
}
