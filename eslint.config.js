// One lint config for the whole repository; gen/ is generated and not linted.
// TypeScript is linted with type information (the compiler's view of every value); the few plain
// JavaScript files (this one, scripts/, deploy/) have no types to check and are linted untyped.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["gen/**", "node_modules/**", "data/**", "dist/**", "client/dist/**", "console/dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `async` is how a function promises a Promise by contract (RawStore methods, test callbacks); an await in each would be noise.
      "@typescript-eslint/require-await": "off",
      // Passing on an abort signal's reason or a caught value keeps it as it is, as `throw` may (only-throw-error's defaults).
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingAny: true, allowThrowingUnknown: true }],
      // A switch over a union names every case or says `default` on purpose.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      // A value imported only for its type is imported as a type; `typeof import(...)` is vitest's idiom for mocks.
      "@typescript-eslint/consistent-type-imports": ["error", { disallowTypeAnnotations: false }],
    },
  },
  { files: ["**/*.js", "**/*.mjs", "**/*.cjs"], extends: [tseslint.configs.disableTypeChecked] },
);
