// One lint config for the whole repository; gen/ is generated and not linted.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["gen/**", "node_modules/**", "data/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
);
