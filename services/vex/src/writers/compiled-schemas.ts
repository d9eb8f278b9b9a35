/**
 * The schema validators compiled ahead of time by schema-codegen.ts (ajv standalone code in
 * gen/), and what was left out of them: the top-level lists' `uniqueItems`, which the validators
 * check with unique-items.ts.
 */
import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";

/** Top-level CycloneDX lists whose uniqueItems is checked by unique-items.ts rather than by ajv. */
export const CYCLONEDX_UNIQUE_LISTS = ["components", "services", "dependencies", "vulnerabilities"] as const;

/** The generated files, relative to this module. */
export const GENERATED = {
  openvex: "./gen/openvex-validate.cjs",
  cyclonedx: "./gen/cyclonedx-validate.cjs",
} as const;

const loaded = new Map<keyof typeof GENERATED, ValidateFunction>();

/**
 * A schema's validator, loaded on first use (ajv's ValidateFunction: `errors` holds the last
 * call's violations).
 * @throws Error from require when the generated file is missing (run schema-codegen.ts).
 */
export function compiledValidator(schema: keyof typeof GENERATED): ValidateFunction {
  let validate = loaded.get(schema);
  if (validate === undefined) {
    validate = createRequire(import.meta.url)(GENERATED[schema]) as ValidateFunction;
    loaded.set(schema, validate);
  }
  return validate;
}
