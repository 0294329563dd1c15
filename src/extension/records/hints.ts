// Record files opened in the editor (responses, judgements, meta-judgements) show per line what
// the workbench knows: parsed score or winner, Elo, flag — as inlay hints, a hover with the whole
// record rendered as escaped text, and a gutter mark on flagged lines. Only visible lines are computed.
import * as path from "node:path";
import * as vscode from "vscode";
import type { LineInfo } from "../../core/view/types.js";
import { Experiments } from "../experiments.js";
import type { Services } from "../services.js";

const RECORD_FILES = new Set(["responses.jsonl", "judgements.jsonl", "meta_judgements.jsonl"]);

export function isRecordFile(doc: vscode.TextDocument): boolean {
  return (
    doc.uri.scheme === "file" && RECORD_FILES.has(path.basename(doc.uri.fsPath)) && Experiments.iterationOf(doc.uri.fsPath) !== undefined
  );
}

const num = (x: number, d = 2): string => String(Number(x.toFixed(d)));

function describe(i: LineInfo): string {
  const bits: string[] = [];
  if (i.kind === "judgement") bits.push(i.score === null || i.score === undefined ? "no score" : `score ${num(i.score)}`);
  if (i.kind === "response") bits.push(i.meanScore === null || i.meanScore === undefined ? "unscored" : `mean ${num(i.meanScore)}`);
  if (i.kind === "meta_judgement") bits.push(i.winner ? `winner: ${i.winner}` : "no verdict");
  if (i.elo !== undefined) bits.push(`Elo ${Math.round(i.elo)}`);
  if (i.flag && i.flag !== "cleared") bits.push(i.flag === "suspicious" ? "⚑ suspicious" : "✓ confirmed");
  return bits.join(" · ");
}

/** Untrusted text goes in with appendText, which escapes Markdown; only the score is emphasised. */
function appendHighlighted(md: vscode.MarkdownString, text: string, span: [number, number] | undefined, limit = 4000): void {
  const t = text.length > limit ? `${text.slice(0, limit)}…` : text;
  if (!span || span[1] > t.length) {
    md.appendText(t);
    return;
  }
  md.appendText(t.slice(0, span[0]));
  md.appendMarkdown("**");
  md.appendText(t.slice(span[0], span[1]));
  md.appendMarkdown("**");
  md.appendText(t.slice(span[1]));
}

export function registerRecordHints(services: Services, experiments: Experiments): vscode.Disposable[] {
  const selector: vscode.DocumentSelector = [{ scheme: "file", pattern: "**/iterations/*/{responses,judgements,meta_judgements}.jsonl" }];
  const hintsChanged = new vscode.EventEmitter<void>();
  const flagDecoration = vscode.window.createTextEditorDecorationType({
    gutterIconPath: vscode.Uri.file(path.join(services.context.extensionPath, "media", "flag.svg")),
    gutterIconSize: "80%",
    overviewRulerColor: new vscode.ThemeColor("editorWarning.foreground"),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });

  const infoFor = async (doc: vscode.TextDocument, from: number, to: number): Promise<LineInfo[]> => {
    const it = Experiments.iterationOf(doc.uri.fsPath);
    if (!it) return [];
    const model = await experiments.model(it.experimentDir, it.iteration);
    return model.lineInfo(doc.uri.fsPath, from, to);
  };

  const decorate = async (editor: vscode.TextEditor): Promise<void> => {
    if (!isRecordFile(editor.document)) return;
    const ranges: vscode.Range[] = [];
    for (const r of editor.visibleRanges) {
      for (const i of await infoFor(editor.document, r.start.line + 1, r.end.line + 1)) {
        if (i.flag === "suspicious") ranges.push(new vscode.Range(i.line - 1, 0, i.line - 1, 0));
      }
    }
    editor.setDecorations(flagDecoration, ranges);
  };
  const decorateVisible = (): void => {
    for (const e of vscode.window.visibleTextEditors) void decorate(e).catch(() => undefined);
  };
  const updateContext = (): void => {
    const doc = vscode.window.activeTextEditor?.document;
    void vscode.commands.executeCommand("setContext", "metajudge.recordFile", doc ? isRecordFile(doc) : false);
  };

  const inlay: vscode.InlayHintsProvider = {
    onDidChangeInlayHints: hintsChanged.event,
    async provideInlayHints(doc, range) {
      if (!services.settings.inlineRecordHints() || !isRecordFile(doc)) return [];
      const infos = await infoFor(doc, range.start.line + 1, range.end.line + 1);
      const hints: vscode.InlayHint[] = [];
      for (const i of infos) {
        const text = describe(i);
        if (!text || i.line - 1 >= doc.lineCount) continue;
        const end = doc.lineAt(i.line - 1).range.end;
        const hint = new vscode.InlayHint(end, `  ${text}`, vscode.InlayHintKind.Type);
        hint.paddingLeft = true;
        hints.push(hint);
      }
      return hints;
    },
  };

  const hover: vscode.HoverProvider = {
    async provideHover(doc, position) {
      if (!isRecordFile(doc)) return undefined;
      const it = Experiments.iterationOf(doc.uri.fsPath)!;
      const model = await experiments.model(it.experimentDir, it.iteration);
      const at = model.recordAtLine(doc.uri.fsPath, position.line + 1);
      if (!at) return undefined;
      const rec = await model.readRecord(at.id);
      if (!rec) return undefined;
      const info = (await infoFor(doc, position.line + 1, position.line + 1))[0];
      const md = new vscode.MarkdownString();
      md.isTrusted = false;
      md.supportHtml = false;
      md.appendMarkdown(`**${at.kind.replace("_", "-")}** `);
      md.appendText(`${at.id}${info ? `  —  ${describe(info)}` : ""}`);
      md.appendMarkdown("\n\n");
      if (at.kind === "judgement" || at.kind === "meta_judgement") {
        const resp = await model.readRecord(String(rec.response_id));
        if (resp && typeof resp.text === "string") {
          md.appendMarkdown("*Judged response*\n\n");
          md.appendText(resp.text.length > 1500 ? `${resp.text.slice(0, 1500)}…` : resp.text);
          md.appendMarkdown("\n\n---\n\n");
        }
      }
      if (typeof rec.text === "string") {
        const span = model.scoreSpan(at.id, rec.text, rec.mode === "json_schema" ? "json_schema" : "text");
        appendHighlighted(md, rec.text, span);
      }
      if (typeof rec.parse_error === "string") {
        md.appendMarkdown("\n\n*Parse:* ");
        md.appendText(rec.parse_error);
      }
      return new vscode.Hover(md);
    },
  };

  updateContext();
  decorateVisible();
  return [
    hintsChanged,
    flagDecoration,
    vscode.languages.registerInlayHintsProvider(selector, inlay),
    vscode.languages.registerHoverProvider(selector, hover),
    vscode.window.onDidChangeActiveTextEditor(() => {
      updateContext();
      decorateVisible();
    }),
    vscode.window.onDidChangeTextEditorVisibleRanges((e) => void decorate(e.textEditor).catch(() => undefined)),
    experiments.onDidChange(() => {
      hintsChanged.fire();
      decorateVisible();
    }),
  ];
}
