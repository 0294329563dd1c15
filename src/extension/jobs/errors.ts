// A failed launch or job says what went wrong and offers the one action that fixes that kind of
// failure: a secret for auth, known_hosts for a host key, Retry for a host that did not answer, the
// log for a job that failed.
import * as vscode from "vscode";
import { MetajudgeError, type ErrorReason } from "../../core/errors.js";
import type { Services } from "../services.js";

export interface FailureContext {
  retry?: () => unknown;
  openLog?: () => unknown;
}

const ACTION: Partial<Record<ErrorReason, string>> = {
  auth: "Set Host Secret",
  hostKey: "Open known_hosts",
  refused: "Retry",
  timeout: "Retry",
  jobFailed: "Open Job Log",
};

export function reasonOf(err: unknown): { reason: ErrorReason; message: string } {
  if (err instanceof MetajudgeError) return { reason: err.reason, message: err.message };
  const r = (err as { reason?: unknown } | undefined)?.reason;
  const message = err instanceof Error ? err.message : String(err);
  return { reason: typeof r === "string" ? (r as ErrorReason) : "internal", message };
}

export async function showFailure(
  services: Services,
  what: string,
  failure: { reason: ErrorReason; message: string },
  ctx: FailureContext = {},
): Promise<void> {
  const action = ACTION[failure.reason];
  const usable = action === "Retry" ? ctx.retry : action === "Open Job Log" ? ctx.openLog : action;
  const choices = [...(action && usable ? [action] : []), "Show Logs"];
  const choice = await vscode.window.showErrorMessage(`${what}: ${failure.message.split("\n")[0]}`, ...choices);
  switch (choice) {
    case "Set Host Secret":
      await vscode.commands.executeCommand("metajudge.setHostSecret");
      break;
    case "Open known_hosts":
      await vscode.window.showTextDocument(vscode.Uri.file(services.settings.knownHostsFile()));
      break;
    case "Retry":
      await ctx.retry?.();
      break;
    case "Open Job Log":
      await ctx.openLog?.();
      break;
    case "Show Logs":
      services.log.show();
      break;
  }
}
