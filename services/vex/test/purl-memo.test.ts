import assert from "node:assert/strict";
import { parsePurl, purlMatches } from "../src/lib.js";

describe("parsePurl's memo", () => {
  it("answers a purl seen before as it did the first time, frozen, and still parses correctly after the memo starts again", () => {
    const text = "pkg:deb/debian/Curl@7.88.1-10?arch=amd64&distro=debian-12";
    const first = parsePurl(text);
    assert.ok(first !== undefined);
    assert.equal(parsePurl(text), first);
    assert.ok(Object.isFrozen(first));
    assert.equal(first.name, "curl");
    assert.equal(first.qualifiers.get("distro"), "debian-12");
    assert.equal(parsePurl("pkg:deb"), undefined);
    assert.equal(parsePurl("pkg:deb"), undefined);
    // More distinct purls than the memo keeps: it is emptied and refilled, the answers unchanged.
    for (let i = 0; i < 210_000; i++) assert.equal(parsePurl(`pkg:npm/p${i}@1.0.${i}`)?.version, `1.0.${i}`);
    assert.deepEqual(parsePurl(text), first);
    assert.equal(purlMatches("pkg:deb/debian/curl?arch=amd64", text), true);
    assert.equal(purlMatches("pkg:deb/debian/curl?arch=arm64", text), false);
  });
});
