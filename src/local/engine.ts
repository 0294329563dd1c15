// The model behind the local server, on node-llama-cpp's prebuilt CPU binary. node-llama-cpp is
// ESM-only and native, so it is imported here, at run time, and only by `serve-local`: the rest of
// the CLI (and src/core) never loads it.
import { randomInt } from "node:crypto";
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from "node-llama-cpp";
import { enumerateBoundedNumbers } from "./schema-bounds.js";
import { engineDir, LocalModelError } from "./vocab.js";

export interface EngineOptions {
  modelPath: string;
  threads: number;
  /** Tokens per sequence: one prompt plus its completion must fit. */
  contextSize: number;
  /**
   * Choices of one request generated side by side in one batch; more wait for a free sequence. 1
   * keeps results exact: which tokens share a batch changes the kernels' rounding, so batched
   * choices drift apart from run to run even with the same seed.
   */
  sequences: number;
}

export interface EngineMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export type OutputFormat = { kind: "text" } | { kind: "json_object" } | { kind: "json_schema"; schema: object };

export interface GenerateParams {
  messages: EngineMessage[];
  n: number;
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
  /** Choice i samples with seed + i; undefined draws a fresh seed per choice. */
  seed?: number;
  stop: string[];
  format: OutputFormat;
  signal?: AbortSignal;
}

export interface GeneratedChoice {
  text: string;
  finishReason: "stop" | "length";
  completionTokens: number;
}

export interface Generation {
  choices: GeneratedChoice[];
  promptTokens: number;
}

/** A request the model cannot serve as asked (the server answers 400). */
export class RequestRejected extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

type Nlc = typeof import("node-llama-cpp");

async function importEngine(): Promise<Nlc> {
  engineDir(); // a clear "not installed" before the import's own error
  // Kept as a real import() in the CommonJS bundle (scripts/build.mjs marks the package external).
  return import("node-llama-cpp");
}

const GRAMMAR_CACHE = 64;

export class LocalEngine {
  private readonly free: LlamaContextSequence[];
  private readonly waiting: ((s: LlamaContextSequence) => void)[] = [];
  // Compiling a grammar from a schema costs milliseconds; a run sends the same schema thousands of times.
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  private constructor(
    private readonly nlc: Nlc,
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly chatWrapper: ChatWrapper,
  ) {
    this.free = Array.from({ length: context.totalSequences }, () => context.getSequence());
  }

  static async load(o: EngineOptions): Promise<LocalEngine> {
    const nlc = await importEngine();
    // No GPU probing and never a source build: the prebuilt CPU binary in the npm package or nothing.
    const llama = await nlc.getLlama({
      gpu: false,
      build: "never",
      progressLogs: false,
      maxThreads: o.threads,
      logLevel: nlc.LlamaLogLevel.error,
    });
    try {
      const model = await llama.loadModel({ modelPath: o.modelPath });
      const context = await model.createContext({ contextSize: o.contextSize, sequences: o.sequences, threads: o.threads });
      // Resolving inspects the template and costs ~0.6 s: once per model, never per request.
      const chatWrapper = nlc.resolveChatWrapper(model);
      return new LocalEngine(nlc, llama, model, context, chatWrapper);
    } catch (e) {
      await llama.dispose();
      throw new LocalModelError(`cannot load ${o.modelPath}: ${(e as Error).message}`);
    }
  }

  get contextSize(): number {
    return this.context.contextSize;
  }
  get sequences(): number {
    return this.context.totalSequences;
  }
  get chatWrapperName(): string {
    return this.chatWrapper.wrapperName;
  }

  async generate(p: GenerateParams): Promise<Generation> {
    const history = toHistory(p.messages);
    const promptTokens = this.countPromptTokens(history);
    const room = this.context.contextSize - promptTokens;
    if (room < 1) {
      throw new RequestRejected(
        `the prompt is ${promptTokens} tokens; this server's context holds ${this.context.contextSize} (start it with a larger --context)`,
        "messages",
        "context_length_exceeded",
      );
    }
    const grammar = await this.grammarFor(p.format);
    const maxTokens = Math.min(p.maxTokens, room);
    // Each request starts from empty sequences: a prefix left by an earlier request would change how
    // this prompt is batched and, in the last bits, its logits; the same seed must give the same text.
    // Within the request the prompt stays, so its later choices re-evaluate only its last token.
    const started = new Set<LlamaContextSequence>();
    const choices = await Promise.all(
      Array.from({ length: p.n }, (_, i) =>
        this.withSequence(async (seq) => {
          if (!started.has(seq)) {
            started.add(seq);
            await seq.clearHistory();
          }
          return this.one(seq, history, p, maxTokens, grammar, p.seed === undefined ? randomInt(2 ** 31) : (p.seed + i) >>> 0);
        }),
      ),
    );
    return { choices, promptTokens };
  }

  private async one(
    seq: LlamaContextSequence,
    history: ChatHistoryItem[],
    p: GenerateParams,
    maxTokens: number,
    grammar: LlamaGrammar | undefined,
    seed: number,
  ): Promise<GeneratedChoice> {
    const before = seq.tokenMeter.usedOutputTokens;
    const chat = new this.nlc.LlamaChat({ contextSequence: seq, chatWrapper: this.chatWrapper });
    try {
      const res = await chat.generateResponse(history, {
        maxTokens,
        temperature: p.temperature,
        topK: p.topK,
        topP: p.topP,
        seed,
        ...(p.stop.length ? { customStopTriggers: p.stop } : {}),
        ...(grammar ? { grammar } : {}),
        ...(p.signal ? { signal: p.signal } : {}),
      });
      return {
        text: res.response,
        finishReason: res.metadata.stopReason === "maxTokens" ? "length" : "stop",
        completionTokens: seq.tokenMeter.usedOutputTokens - before,
      };
    } finally {
      chat.dispose({ disposeSequence: false });
    }
  }

  private countPromptTokens(history: ChatHistoryItem[]): number {
    return this.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.model.tokenizer).length;
  }

  private grammarFor(f: OutputFormat): Promise<LlamaGrammar> | undefined {
    if (f.kind === "text") return undefined;
    const key = f.kind === "json_object" ? "json" : JSON.stringify(f.schema);
    let g = this.grammars.get(key);
    if (!g) {
      g = (
        f.kind === "json_object"
          ? this.llama.getGrammarFor("json")
          : this.llama.createGrammarForJsonSchema(enumerateBoundedNumbers(f.schema as never) as never)
      ).catch((e: unknown) => {
        this.grammars.delete(key);
        throw new RequestRejected(
          `response_format: the schema cannot be turned into a grammar: ${(e as Error).message}`,
          "response_format",
        );
      });
      if (this.grammars.size >= GRAMMAR_CACHE) this.grammars.delete(this.grammars.keys().next().value as string);
      this.grammars.set(key, g);
    }
    return g;
  }

  private async withSequence<T>(work: (s: LlamaContextSequence) => Promise<T>): Promise<T> {
    const seq = this.free.pop() ?? (await new Promise<LlamaContextSequence>((grant) => this.waiting.push(grant)));
    try {
      return await work(seq);
    } finally {
      const next = this.waiting.shift();
      if (next) next(seq);
      else this.free.push(seq);
    }
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

/** OpenAI roles to node-llama-cpp's history, ending with the empty model turn to be generated. */
export function toHistory(messages: EngineMessage[]): ChatHistoryItem[] {
  const h: ChatHistoryItem[] = messages.map((m) =>
    m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content },
  );
  h.push({ type: "model", response: [] });
  return h;
}
