// `npm run lint` (with knip and madge): typescript-eslint's type-checked rules and @pulumi/eslint-plugin over
// every TypeScript file tsconfig.json covers. Any exception below names the rule and says why.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["node_modules/", "demo/", "test/artifacts/", "test/.serialized-*/", "test/.typecheck-*/", "bench/out/", "client/dist/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@pulumi": pulumi },
    rules: {
      // The plugin (0.3.1) ships no preset; these two rules are all it has.
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      // `const { code: _code, ...rest } = x` is how this code drops a key; tsc's noUnusedLocals
      // already accepts it. Every other unused name is still reported.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
      // A `let` that a closure reads before its one assignment (handlers installed after the
      // emulator they serve has started) must stay `let`: as a `const` moved below, an early call
      // would hit the temporal dead zone instead of the guard's clear error.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
);
