// What several node kinds show the same way: numbers, scores and a record's flag.
import * as vscode from "vscode";
import type { AnnotationLabel } from "../../../core/view/types.js";
import type { Node } from "./types.js";

export const fmt = (n: number): string => n.toLocaleString("en-US");
export const score = (s: number | null | undefined, digits = 2): string =>
  s === null || s === undefined ? "–" : String(Number(s.toFixed(digits)));

export function flagIcon(flag: AnnotationLabel | undefined, fallback: string): vscode.ThemeIcon {
  if (flag === "suspicious") return new vscode.ThemeIcon("warning", new vscode.ThemeColor("list.warningForeground"));
  if (flag === "confirmed") return new vscode.ThemeIcon("verified");
  return new vscode.ThemeIcon(fallback);
}

/** The item's id is the node's, so the tree keeps expansion and selection across refreshes. */
export function withId(item: vscode.TreeItem, node: Node): vscode.TreeItem {
  item.id = node.id;
  return item;
}
