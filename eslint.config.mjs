// Type-aware lint for the whole monorepo (DESIGN §12, STYLE §15).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/.types/**",
      "packages/proto/src/gen/**",
      ".tools/**",
      "**/*.mjs",
      "**/*.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/require-await": "off",
      "import-x/no-cycle": "error",
      "import-x/no-default-export": "error",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@pipecd-ts/*/src/*", "@pipecd-ts/*/src"],
              message: "Import a package through its public surface (src/index.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    // Vite reads its config from a default export.
    files: ["apps/web/vite.config.ts"],
    rules: { "import-x/no-default-export": "off" },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "packages/*/test/**/*.ts", "apps/*/test/**/*.ts"],
    rules: {
      // node:test's describe/it return promises the runner awaits itself.
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
