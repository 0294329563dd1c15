// One inspector tab: owns its WebviewPanel, speaks the protocol, and reloads its prompt when the
// records underneath change. The page is rebuilt from the last `show` each time it (re)announces
// `ready`, which is how a hidden tab comes back without retainContextWhenHidden.
import * as vscode from "vscode";
import type { AnnotationLabel, InspectorData, TargetKind } from "../../core/view/types.js";
import {
  INSPECTOR_VIEW_TYPE,
  isWebviewMessage,
  type HostMessage,
  type InspectorState,
  type WebviewMessage,
} from "../../shared/protocol.js";
import type { Services } from "../services.js";
import { askAnnotation, askNote } from "./ask.js";
import { inspectorHtml, makeNonce } from "./html.js";
import { applyAnnotation, findRecord, kindOf } from "./records.js";
import type { InspectorSource } from "./source.js";

const COMPONENT = "inspector";

export interface Selected {
  targetId: string;
  targetKind: TargetKind;
}

export class InspectorPanel implements vscode.Disposable {
  static create(services: Services, source: InspectorSource): InspectorPanel {
    const media = InspectorPanel.mediaRoot(services);
    const panel = vscode.window.createWebviewPanel(
      INSPECTOR_VIEW_TYPE,
      "Inspector",
      { viewColumn: vscode.ViewColumn.Active },
      { enableScripts: true, localResourceRoots: [media], enableFindWidget: true },
    );
    return new InspectorPanel(panel, services, source);
  }

  static mediaRoot(services: Services): vscode.Uri {
    return vscode.Uri.joinPath(services.context.extensionUri, "media");
  }

  private readonly disposables: vscode.Disposable[] = [];
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private ready = false;
  /** The prompt shown or being loaded. */
  private target: { experimentDir: string; iteration: number; promptId: string } | undefined;
  private data: InspectorData | undefined;
  private selected: Selected | undefined;
  /** What the page should be showing: re-sent whole whenever the page (re)loads. */
  private view: HostMessage | undefined;
  private loadSeq = 0;
  private refreshTimer: NodeJS.Timeout | undefined;

  /** Takes over a panel, new or restored by the serializer. */
  constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly services: Services,
    private readonly source: InspectorSource,
  ) {
    const media = InspectorPanel.mediaRoot(services);
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: [media] };
    panel.iconPath = vscode.Uri.joinPath(media, "metajudge.svg");
    webview.html = inspectorHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "inspector.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "inspector.css")).toString(),
    });
    this.disposables.push(
      this.disposed,
      webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      source.onDidChange((e) => {
        if (this.target && e.experimentDir === this.target.experimentDir && e.iteration === this.target.iteration) this.scheduleRefresh();
      }),
    );
  }

  async show(experimentDir: string, iteration: number, promptId: string, selectedId?: string): Promise<void> {
    this.target = { experimentDir, iteration, promptId };
    this.selected = undefined;
    this.panel.title = `Inspector: ${promptId}`;
    this.setView({ type: "loading", promptId });
    await this.load(selectedId);
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  selectNext(direction: "next" | "previous"): void {
    if (this.ready) this.post({ type: "select", direction });
  }

  current(): InspectorState | undefined {
    if (!this.target) return undefined;
    return this.selected ? { ...this.target, selectedId: this.selected.targetId } : { ...this.target };
  }

  selection(): Selected | undefined {
    return this.selected;
  }

  isActive(): boolean {
    return this.panel.active;
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.loadSeq++;
    this.disposed.fire();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  // ---- loading ---------------------------------------------------------------------------------

  /** Later loads win: a slow answer for an earlier prompt never replaces a newer one. */
  private async load(selectedId: string | undefined): Promise<void> {
    const t = this.target;
    if (!t) return;
    const seq = ++this.loadSeq;
    try {
      const data = await this.source.inspector(t.experimentDir, t.iteration, t.promptId);
      if (seq !== this.loadSeq) return;
      this.data = data;
      const kind = selectedId === undefined ? undefined : kindOf(data, selectedId);
      this.selected = selectedId !== undefined && kind ? { targetId: selectedId, targetKind: kind } : undefined;
      this.setView(this.selected ? { type: "show", data, selectedId: this.selected.targetId } : { type: "show", data });
    } catch (e) {
      if (seq !== this.loadSeq) return;
      const message = e instanceof Error ? e.message : String(e);
      this.services.log.error(COMPONENT, `cannot load ${t.promptId} of iteration ${t.iteration}: ${message}`);
      this.setView({ type: "error", message: `Cannot load prompt ${t.promptId}: ${message}` });
    }
  }

  /** Records keep arriving while a run appends; coalesce, then reload quietly with the same selection. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.load(this.selected?.targetId);
    }, this.services.settings.refreshDelayMs());
  }

  // ---- messaging -------------------------------------------------------------------------------

  private setView(m: HostMessage): void {
    this.view = m;
    this.post(m);
  }

  private post(m: HostMessage): void {
    // Before `ready` the page cannot listen; `view` is re-sent then, so nothing is lost.
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private receive(raw: unknown): void {
    if (!isWebviewMessage(raw)) return;
    void this.handle(raw).catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      this.services.log.error(COMPONENT, `${raw.type}: ${message}`);
      void vscode.window.showErrorMessage(`Inspector: ${message}`, "Show Logs").then((a) => a && this.services.log.show());
    });
  }

  private async handle(m: WebviewMessage): Promise<void> {
    const t = this.target;
    switch (m.type) {
      case "ready": {
        this.ready = true;
        const saved = m.state;
        if (!this.selected && saved?.selectedId && t && saved.promptId === t.promptId && saved.iteration === t.iteration) {
          const kind = this.data && kindOf(this.data, saved.selectedId);
          if (kind) this.selected = { targetId: saved.selectedId, targetKind: kind };
        }
        if (this.view?.type === "show") this.view = { ...this.view, ...(this.selected ? { selectedId: this.selected.targetId } : {}) };
        if (this.view) this.post(this.view);
        return;
      }
      case "selected":
        this.selected = { targetId: m.targetId, targetKind: m.targetKind };
        if (this.view?.type === "show") this.view = { ...this.view, selectedId: m.targetId };
        return;
      case "annotate":
        if (t) await this.annotate({ ...t, targetId: m.targetId, targetKind: m.targetKind }, m.label, m.reason, m.note);
        return;
      case "annotateInteractive":
        if (t) await this.annotateInteractive({ ...t, targetId: m.targetId, targetKind: m.targetKind }, m.label);
        return;
      case "noteInteractive": {
        if (!t || !this.data) return;
        const found = findRecord(this.data, m.targetId);
        const note = await askNote(`Note on ${m.targetId}`, found && found.kind !== "meta_judgement" ? found.record.note : undefined);
        // A note keeps the item's current label; "cleared" is the label of an item nobody flagged.
        if (note !== undefined)
          await this.annotate({ ...t, targetId: m.targetId, targetKind: m.targetKind }, found?.record.flag ?? "cleared", undefined, note);
        return;
      }
      case "reveal":
        if (t) await this.source.reveal(t.experimentDir, t.iteration, m.targetId);
        return;
      case "openPrompt": {
        if (!t) return;
        if (!m.direction) return this.show(t.experimentDir, t.iteration, m.promptId);
        const id = await this.source.adjacentPrompt(t.experimentDir, t.iteration, m.promptId, m.direction);
        if (id) return this.show(t.experimentDir, t.iteration, id);
        void vscode.window.showInformationMessage(
          `${m.promptId} is the ${m.direction === "next" ? "last" : "first"} prompt of iteration ${t.iteration}.`,
        );
        return;
      }
    }
  }

  // ---- annotations -----------------------------------------------------------------------------

  private async annotate(
    req: { experimentDir: string; iteration: number; targetId: string; targetKind: TargetKind },
    label: AnnotationLabel,
    reason: string | undefined,
    note: string | undefined,
  ): Promise<void> {
    await this.source.annotate({ ...req, label, ...(reason ? { reason } : {}), ...(note ? { note } : {}) });
    this.annotated(req.targetId, label, note);
  }

  private async annotateInteractive(
    req: { experimentDir: string; iteration: number; targetId: string; targetKind: TargetKind },
    label: AnnotationLabel,
  ): Promise<void> {
    if (this.source.annotateInteractive) {
      // The shared dialog does not say which note was typed: reload now rather than guess the badge.
      if (await this.source.annotateInteractive({ ...req, label })) await this.load(this.selected?.targetId);
      return;
    }
    const answer = await askAnnotation(this.services.settings, req.targetId, label);
    if (answer) await this.annotate(req, label, answer.reason, answer.note);
  }

  private annotated(targetId: string, label: AnnotationLabel, note: string | undefined): void {
    if (this.data) applyAnnotation(this.data, targetId, label, note);
    const flag = label === "cleared" ? null : label;
    this.post(note ? { type: "annotation", targetId, label: flag, note } : { type: "annotation", targetId, label: flag });
  }
}
