// One stage of an iteration from its manifest entry: progress, state, counts; an export whose pairs
// were recomputed since shows as stale.
import * as vscode from "vscode";
import { fmt, withId } from "./format.js";
import type { NodeKind, StageNode } from "./types.js";

const STAGE_ICON: Record<string, vscode.ThemeIcon> = {
  pending: new vscode.ThemeIcon("circle-large-outline"),
  running: new vscode.ThemeIcon("sync~spin"),
  done: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
};
// A finished export whose pairs were recomputed since: done, but no longer what training should read.
const STALE_ICON = new vscode.ThemeIcon("warning", new vscode.ThemeColor("list.warningForeground"));

export const stageKind: NodeKind<StageNode> = {
  item(node) {
    const st = node.stage;
    const item = new vscode.TreeItem(st.stage, vscode.TreeItemCollapsibleState.None);
    const progress = st.total !== null ? `${fmt(st.done)}/${fmt(st.total)}` : st.done > 0 ? fmt(st.done) : "";
    item.description = [progress, st.stale ? "stale" : st.state].filter(Boolean).join(" · ");
    item.iconPath = st.stale ? STALE_ICON : (STAGE_ICON[st.state] ?? STAGE_ICON.pending);
    item.contextValue = `metajudge.stage.${st.stale ? "stale" : st.state}`;
    const counts = Object.entries(st.counts).map(([k, v]) => `${k}: ${fmt(v)}`);
    const stale = st.stale ? `\n\n$(warning) Stale: ${st.stale}` : "";
    item.tooltip = new vscode.MarkdownString(`**${st.stage}** — ${st.state}${stale}\n\n${counts.map((c) => `- ${c}`).join("\n")}`, true);
    return withId(item, node);
  },
};
