import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GENERATED } from "../src/writers/compiled-schemas.js";
import { cycloneDxValidatorSource, openVexValidatorSource } from "../src/writers/schema-codegen.js";

function committed(file: string): string {
  return readFileSync(fileURLToPath(new URL(`../src/writers/${file}`, import.meta.url)), "utf8");
}

describe("schema validators compiled ahead of time (schema-codegen.ts)", function () {
  this.timeout(60000);

  it("the committed OpenVEX and CycloneDX validators are what schema-codegen generates from the schemas now (regenerate with node --import tsx services/vex/src/writers/schema-codegen.ts)", () => {
    assert.ok(openVexValidatorSource() === committed(GENERATED.openvex), `${GENERATED.openvex} is stale: regenerate it`);
    assert.ok(cycloneDxValidatorSource() === committed(GENERATED.cyclonedx), `${GENERATED.cyclonedx} is stale: regenerate it`);
  });
});
