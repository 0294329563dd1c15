// The inspector's DOM-free parts: the text split that marks a parsed span, the battle matrix, the
// Elo ranking, the actor-pair bounds, keyboard moves, and the page's Content Security Policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { InspectorBattle, InspectorBattles, InspectorData, InspectorResponse } from "../../src/core/view/types.js";
import { inspectorCsp, inspectorHtml, makeNonce } from "../../src/extension/inspector/html.js";
import { applyAnnotation, kindOf } from "../../src/extension/inspector/records.js";
import {
  buildMatrix,
  eloRanking,
  fmtCount,
  fmtFixed,
  fmtNum,
  move,
  navigationItems,
  splitAtSpan,
  staleMembers,
  staleNotice,
  tierBounds,
  tierCandidates,
} from "../../webview/model.js";

test("splitAtSpan cuts text into before / match / after, and refuses spans that do not fit", () => {
  const text = 'Fine.\n<img src=x onerror="alert(1)"> Score: 4.5';
  const start = text.indexOf("Score");
  assert.deepEqual(splitAtSpan(text, [start, text.length]), { before: text.slice(0, start), match: "Score: 4.5", after: "" });
  assert.deepEqual(splitAtSpan("Score: 3 then more", [0, 8]), { before: "", match: "Score: 3", after: " then more" });
  const cases: [string, [number, number] | undefined][] = [
    ["absent", undefined],
    ["empty", [3, 3]],
    ["reversed", [5, 2]],
    ["negative", [-1, 4]],
    ["past the end", [0, text.length + 1]],
    ["fractional", [0.5, 4]],
  ];
  for (const [what, span] of cases) assert.equal(splitAtSpan(text, span), null, what);
});

test("splitAtSpan counts UTF-16 units, as the parser's offsets do", () => {
  const text = "😀 ok Score: 5";
  const start = text.indexOf("Score");
  assert.equal(start, 6, "the emoji is two units");
  assert.equal(splitAtSpan(text, [start, text.length])?.match, "Score: 5");
});

test("numbers: scores drop trailing zeros, Elo keeps fixed decimals, counts group thousands", () => {
  const rows: [string, string][] = [
    [fmtNum(4.5), "4.5"],
    [fmtNum(4), "4"],
    [fmtNum(4.3333), "4.33"],
    [fmtNum(null), "—"],
    [fmtNum(Number.NaN), "—"],
    [fmtFixed(1.4), "1.40"],
    [fmtFixed(-0.001), "0.00"],
    [fmtFixed(-0.68), "-0.68"],
    [fmtFixed(undefined), "—"],
    [fmtCount(1234567), "1,234,567"],
    [fmtCount(999), "999"],
  ];
  for (const [got, want] of rows) assert.equal(got, want);
});

const battle = (first: number, second: number, winner: InspectorBattle["winner"]): InspectorBattle => ({
  id: `r0:m${first}-${second}`,
  firstId: `r0:j${first}`,
  secondId: `r0:j${second}`,
  winner,
  text: "",
});

function battles(list: InspectorBattle[], extra: Partial<InspectorBattles> = {}): InspectorBattles {
  return {
    responseId: "r0",
    judgementIds: ["r0:j0", "r0:j1", "r0:j2"],
    battles: list,
    inconsistent: [],
    elo: {},
    stats: null,
    pair: null,
    ...extra,
  };
}

test("buildMatrix puts each ordered battle at [first][second], leaves the diagonal empty and marks contradicting pairs both ways", () => {
  const b = battles([battle(0, 1, "first"), battle(1, 0, "first"), battle(0, 2, "second"), battle(2, 0, "first"), battle(1, 2, null)], {
    inconsistent: [["r0:j1", "r0:j0"]],
  });
  const m = buildMatrix(b);
  assert.deepEqual(m.ids, b.judgementIds);
  assert.equal(m.cells[0]![1]!.battle.id, "r0:m0-1");
  assert.equal(m.cells[1]![0]!.battle.id, "r0:m1-0");
  assert.equal(m.cells[0]![1]!.inconsistent, true);
  assert.equal(m.cells[1]![0]!.inconsistent, true, "the pair is unordered");
  assert.equal(m.cells[0]![2]!.inconsistent, false);
  assert.equal(m.cells[1]![2]!.battle.winner, null);
  assert.equal(m.cells[2]![1], null, "a battle never run");
  for (let i = 0; i < 3; i++) assert.equal(m.cells[i]![i], null);
  assert.equal(m.inconsistentPairs, 1);
  assert.deepEqual(m.stray, []);
});

test("buildMatrix lists battles it cannot place instead of dropping them", () => {
  const odd = [battle(0, 9, "first"), battle(1, 1, "first"), battle(0, 1, "first"), battle(0, 1, "second")];
  const m = buildMatrix(battles(odd));
  assert.deepEqual(
    m.stray.map((x) => x.winner),
    ["first", "first", "second"],
    "unknown judgement, self-battle, second copy of an order",
  );
  assert.equal(m.cells[0]![1]!.battle.winner, "first", "the first copy stays");
});

test("eloRanking sorts by Elo, breaks ties by matrix order and names the pair", () => {
  const b = battles([], { elo: { "r0:j2": 0.5, "r0:j0": 0.5, "r0:j1": 1.25 }, pair: null });
  assert.deepEqual(
    eloRanking(b).map((e) => e.id),
    ["r0:j1", "r0:j0", "r0:j2"],
  );
  const withPair = eloRanking({ ...b, pair: { chosenId: "r0:j1", rejectedId: "r0:j2" } });
  assert.deepEqual(
    withPair.map((e) => e.role),
    ["chosen", undefined, "rejected"],
  );
});

test("tierBounds writes out (1-rho)*S_max + rho*S_min and (1-rho)*S_min + rho*S_max", () => {
  // upper = 0.7*4.5 + 0.3*1.5 = 3.6; lower = 0.7*1.5 + 0.3*4.5 = 2.4
  const b = tierBounds({ chosenId: null, rejectedId: null, rho: 0.3, upper: null, lower: null, sMax: 4.5, sMin: 1.5 });
  assert.ok(b);
  assert.ok(Math.abs(b.upper - 3.6) < 1e-12 && Math.abs(b.lower - 2.4) < 1e-12);
  assert.equal(b.upperFormula, "(1 − 0.3)·4.5 + 0.3·1.5 = 3.6");
  assert.equal(b.lowerFormula, "(1 − 0.3)·1.5 + 0.3·4.5 = 2.4");
  const given = tierBounds({ chosenId: null, rejectedId: null, rho: 0, upper: 4.5, lower: 1.5, sMax: 4.5, sMin: 1.5 });
  assert.equal(given?.upperFormula, "(1 − 0)·4.5 + 0·1.5 = 4.5", "rho 0 is best vs worst");
  assert.equal(tierBounds({ chosenId: null, rejectedId: null, rho: 0.3, upper: null, lower: null, sMax: null, sMin: null }), null);
});

function response(index: number, meanScore: number | null, length: number, extra: Partial<InspectorResponse> = {}): InspectorResponse {
  return {
    id: `r${index}`,
    promptId: "p",
    index,
    length,
    meanScore,
    judgements: 0,
    validJudgements: 0,
    variance: null,
    battled: false,
    text: "",
    scores: [],
    judgementList: [],
    ...extra,
  };
}

test("tierCandidates: the high tier shortest first, the low tier longest first, without duplicates or suspicious responses", () => {
  const rs = [
    response(0, 4.5, 900),
    response(1, 3.6, 300), // exactly on the upper bound
    response(2, 4.4, 200, { flag: "suspicious" }),
    response(3, 4.5, 100, { duplicateOf: "r0" }),
    response(4, 1.5, 400),
    response(5, 2.4, 800), // exactly on the lower bound
    response(6, null, 5000),
  ];
  const bounds = tierBounds({ chosenId: null, rejectedId: null, rho: 0.3, upper: null, lower: null, sMax: 4.5, sMin: 1.5 })!;
  const c = tierCandidates(rs, bounds);
  assert.deepEqual(
    c.high.map((r) => r.id),
    ["r1", "r0"],
  );
  assert.deepEqual(
    c.low.map((r) => r.id),
    ["r5", "r4"],
  );
});

function sample(): InspectorData {
  const j = (r: number, i: number) => ({ id: `r${r}:j${i}`, responseId: `r${r}`, index: i, score: 4, length: 10, text: "Score: 4" });
  const b = battles([
    battle(0, 1, "first"),
    battle(1, 0, "second"),
    battle(0, 2, "first"),
    battle(2, 0, "first"),
    battle(1, 2, "first"),
    battle(2, 1, null),
  ]);
  return {
    experimentDir: "/x",
    iteration: 1,
    prompt: { id: "p", text: "?" },
    responses: [
      response(0, 4, 10, { judgementList: [j(0, 0), j(0, 1), j(0, 2)] }),
      response(1, 3, 10, { judgementList: [j(1, 0)] }),
      response(2, 2, 10, { judgementList: [j(2, 0), j(2, 1)] }),
    ],
    battles: b,
    actorPair: { chosenId: null, rejectedId: null, rho: 0, upper: null, lower: null, sMax: null, sMin: null },
    judgeMode: "text",
  };
}

test("keyboard moves: j/k in reading order, arrows across columns with clamping, the matrix stepping over its diagonal", () => {
  const d = sample();
  const items = navigationItems(d, buildMatrix(d.battles!));
  const at = (id: string | undefined, m: Parameters<typeof move>[2]) => move(items, id, m)?.id;
  const rows: [string | undefined, Parameters<typeof move>[2], string][] = [
    [undefined, "next", "r0"],
    [undefined, "previous", "r0:m2-1"],
    ["r0", "next", "r0:j0"],
    ["r0:j2", "next", "r1"],
    ["r2:j1", "next", "r0:m0-1"],
    ["r0", "previous", "r0"],
    ["r0:j2", "right", "r1:j0"], // r1 has one judgement: clamp to it
    ["r1:j0", "right", "r2:j0"],
    ["r2:j1", "right", "r2:j1"], // the last column
    ["r0:j1", "down", "r0:j2"],
    ["r0:j2", "down", "r0:j2"], // the end of a column stays put
    ["r1:j0", "up", "r1"],
    ["r0:m1-0", "right", "r0:m1-2"], // over the diagonal at [1][1]
    ["r0:m0-1", "down", "r0:m2-1"],
    ["r0:m0-2", "left", "r0:m0-1"],
    ["r0:m0-1", "left", "r0:m0-1"], // [0][0] is the diagonal and nothing lies beyond
  ];
  for (const [from, m, want] of rows) assert.equal(at(from, m), want, `${from ?? "nothing"} ${m}`);
});

test("records: the kind of an id, and an annotation mirrored into loaded data", () => {
  const d = sample();
  assert.equal(kindOf(d, "r1"), "response");
  assert.equal(kindOf(d, "r0:j2"), "judgement");
  assert.equal(kindOf(d, "r0:m1-0"), "meta_judgement");
  assert.equal(kindOf(d, "nope"), undefined);
  assert.ok(applyAnnotation(d, "r0:j1", "suspicious", "too generous"));
  assert.equal(d.responses[0]!.judgementList[1]!.flag, "suspicious");
  assert.equal(d.responses[0]!.judgementList[1]!.note, "too generous");
  assert.ok(applyAnnotation(d, "r0:j1", "cleared", undefined));
  assert.equal(d.responses[0]!.judgementList[1]!.flag, undefined);
  assert.equal(applyAnnotation(d, "nope", "confirmed", undefined), false);
});

test("a flag after the pairs were computed: the flagged member is named out of date until Recompute Pairs", () => {
  const d = sample();
  d.responses[0]!.pairRole = "chosen";
  d.responses[2]!.pairRole = "rejected";
  d.responses[0]!.judgementList[1]!.pairRole = "chosen";
  d.responses[0]!.judgementList[2]!.pairRole = "rejected";
  const label = (id: string) => id.replace(/^r(\d+):j/, "j");
  assert.deepEqual(staleMembers(d), [], "nothing flagged: the pairs are current");
  assert.equal(staleNotice(staleMembers(d), label), null);

  // The host mirrors a flag into the loaded data, as the "annotation" message does.
  assert.ok(applyAnnotation(d, "r0:j1", "suspicious", undefined));
  assert.ok(applyAnnotation(d, "r2", "suspicious", undefined));
  assert.ok(applyAnnotation(d, "r1", "suspicious", undefined)); // in no pair: nothing goes stale
  assert.deepEqual(staleMembers(d), [
    { id: "r0:j1", role: "chosen", pair: "judge" },
    { id: "r2", role: "rejected", pair: "actor" },
  ]);
  const notice = staleNotice(staleMembers(d), label);
  assert.match(
    notice ?? "",
    /^Pairs not recomputed since these flags: j1 \(chosen, judge pair\) and r2 \(rejected, actor pair\) are flagged but still in the stored pairs\. Run Metajudge: Recompute Pairs/,
  );

  // Confirming is no exclusion, and clearing the flag makes the stored pair right again.
  assert.ok(applyAnnotation(d, "r2", "confirmed", undefined));
  assert.ok(applyAnnotation(d, "r0:j1", "cleared", undefined));
  assert.deepEqual(staleMembers(d), []);
});

test("the page's CSP denies everything by default, runs only the nonce-tagged bundle and allows no inline style", () => {
  const csp = inspectorCsp("https://abc.vscode-cdn.net", "N0nce");
  const directives = csp.split(";").map((s) => s.trim());
  assert.equal(directives[0], "default-src 'none'");
  assert.ok(directives.includes("script-src 'nonce-N0nce'"));
  assert.ok(directives.includes("style-src https://abc.vscode-cdn.net"));
  assert.doesNotMatch(csp, /unsafe-(inline|eval)|\bhttps?:(?!\/\/abc)|\*/);
  const html = inspectorHtml({
    cspSource: "https://abc.vscode-cdn.net",
    nonce: "N0nce",
    scriptUri: "https://abc.vscode-cdn.net/media/inspector.js",
    styleUri: "https://abc.vscode-cdn.net/media/inspector.css",
  });
  assert.equal((html.match(/<script/g) ?? []).length, 1, "one script element");
  assert.match(html, /<script nonce="N0nce" src="https:\/\/abc\.vscode-cdn\.net\/media\/inspector\.js"><\/script>/);
  assert.match(html, /content="default-src 'none'; script-src 'nonce-N0nce'/);
});

test("nonces are fresh and long enough", () => {
  const seen = new Set(Array.from({ length: 50 }, makeNonce));
  assert.equal(seen.size, 50);
  for (const n of seen) assert.ok(Buffer.from(n, "base64").length >= 16);
});
