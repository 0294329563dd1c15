// One selection across responses, judgements and battles. Each area keeps a single tab stop (roving
// tabindex), so Tab jumps between areas and the arrow keys or j/k move inside and across them.
import type { TargetKind } from "../src/shared/view.js";
import { move, type Area, type Move, type NavItem } from "./model.js";

export interface Selectable {
  id: string;
  kind: TargetKind;
  el: HTMLElement;
  /** Called once as the item becomes selected: where its action buttons go (a battle renders its detail here). */
  actionsSlot: () => HTMLElement | null;
}

export interface SelectionEvents {
  didSelect(item: Selectable): void;
}

const KEY_MOVES: Record<string, Move> = {
  j: "next",
  k: "previous",
  ArrowDown: "down",
  ArrowUp: "up",
  ArrowLeft: "left",
  ArrowRight: "right",
};

export class Selection {
  private entries = new Map<string, Selectable>();
  private nav: NavItem[] = [];
  private selected: string | undefined;

  constructor(
    private readonly actions: HTMLElement,
    private readonly events: SelectionEvents,
  ) {}

  get selectedId(): string | undefined {
    return this.selected;
  }

  current(): Selectable | undefined {
    return this.selected === undefined ? undefined : this.entries.get(this.selected);
  }

  /** Forget everything rendered before; the caller registers the new page's items, then calls `setOrder`. */
  reset(): void {
    this.entries.clear();
    this.nav = [];
    this.selected = undefined;
    this.actions.remove();
  }

  setOrder(nav: NavItem[]): void {
    this.nav = nav.filter((n) => this.entries.has(n.id));
    this.updateTabStops();
  }

  register(item: Selectable): void {
    this.entries.set(item.id, item);
    item.el.tabIndex = -1;
    item.el.dataset.selectable = item.kind;
    item.el.addEventListener("focus", () => this.select(item.id));
    item.el.addEventListener("click", () => this.select(item.id, { focus: true }));
  }

  has(id: string | undefined): id is string {
    return id !== undefined && this.entries.has(id);
  }

  select(id: string, opts: { focus?: boolean } = {}): void {
    const item = this.entries.get(id);
    if (!item) return;
    if (this.selected !== id) {
      const prev = this.selected === undefined ? undefined : this.entries.get(this.selected);
      prev?.el.removeAttribute("aria-selected");
      prev?.el.classList.remove("selected");
      this.selected = id;
      item.el.classList.add("selected");
      item.el.setAttribute("aria-selected", "true");
      const slot = item.actionsSlot();
      if (slot) slot.appendChild(this.actions);
      else this.actions.remove();
      this.updateTabStops();
      this.events.didSelect(item);
    }
    if (opts.focus && document.activeElement !== item.el) {
      item.el.focus({ preventScroll: true });
      item.el.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  /** Moves as a key would (the host forwards its alt+j / alt+k here too). */
  step(m: Move): void {
    const target = move(this.nav, this.selected, m);
    if (target) this.select(target.id, { focus: true });
  }

  handleKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
    const m = KEY_MOVES[e.key];
    if (!m) return;
    // Arrows keep their usual meaning (scrolling, buttons) unless an item has focus; j/k work anywhere.
    const onItem = e.target instanceof HTMLElement && e.target.dataset.selectable !== undefined;
    if (!onItem && m !== "next" && m !== "previous") return;
    e.preventDefault();
    this.step(m);
  }

  /** One tab stop per area: the selection where it is, else the area's first item. */
  private updateTabStops(): void {
    const current = this.nav.find((n) => n.id === this.selected);
    const stops = new Map<Area, string>();
    if (current) stops.set(current.area, current.id);
    for (const n of this.nav) if (!stops.has(n.area)) stops.set(n.area, n.id);
    const ids = new Set(stops.values());
    for (const [id, item] of this.entries) item.el.tabIndex = ids.has(id) ? 0 : -1;
  }
}
