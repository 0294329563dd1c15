// The one rule that keeps the house standing: the domain (src/core) never touches the editor.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "media/**", ".vscode-test/**"] },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommended],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // A promise nobody awaits loses its error: in src each one is awaited, or marked `void` on purpose.
    // Type-aware, so it reads src through the TypeScript project (src only, to keep lint quick). A text
    // linted under a name the project lacks (the lint rules' own probes, src/<layer>/probe.ts) gets a default one.
    files: ["src/**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["src/*/probe.ts"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "vscode", message: "src/core runs in plain Node: put editor code in src/extension." }],
          patterns: [
            { group: ["**/extension/**", "**/cli/**", "**/webview/**"], message: "Arrows point down only: core imports no adapter." },
          ],
        },
      ],
    },
  },
  {
    // The webview is a browser bundle: it sees the host only through the typed protocol in src/shared.
    files: ["webview/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "vscode", message: "The webview runs in a browser: talk to the host through src/shared/protocol.ts." }],
          patterns: [
            { group: ["node:*"], message: "The webview runs in a browser: no Node modules." },
            {
              group: ["**/src/core/**", "**/src/extension/**", "**/src/cli/**", "**/src/local/**"],
              message: "The webview imports only src/shared (the protocol and the data it carries).",
            },
          ],
        },
      ],
    },
  },
  {
    // What a worker prints is read through the --json contract's guard (parseWireLine), never cast.
    files: ["src/extension/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: ":matches(TSAsExpression, TSTypeAssertion) > CallExpression[callee.object.name='JSON'][callee.property.name='parse']",
          message:
            "Do not cast JSON.parse: read a worker's lines with parseWireLine (src/shared/cli-wire.ts), and other JSON with a schema or a guard.",
        },
      ],
    },
  },
  {
    // src/shared is the leaf both sides build on: it imports nothing but itself.
    files: ["src/shared/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ regex: "^(?!\\./)", message: "src/shared imports nothing but its own files, so either side can use it." }],
        },
      ],
    },
  },
);
