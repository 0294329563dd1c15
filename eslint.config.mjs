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
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "vscode", message: "src/core runs in plain Node: put editor code in src/extension." }],
        patterns: [{ group: ["**/extension/**", "**/cli/**", "**/webview/**"], message: "Arrows point down only: core imports no adapter." }],
      }],
    },
  },
);
