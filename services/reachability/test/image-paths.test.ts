import assert from "node:assert/strict";
import { ImagePathResolver, normaliseAbsolute } from "../src/verdict/image-paths.js";

describe("image path resolution", () => {
  const resolver = new ImagePathResolver({
    "/lib": "usr/lib",
    "/bin": "usr/bin",
    "/lib64": "usr/lib64",
    "/usr/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.2.3",
    "/usr/bin/awk": "/etc/alternatives/awk",
    "/etc/alternatives/awk": "/usr/bin/mawk",
    "/usr/bin/sh": "dash",
    "/loop/a": "b",
    "/loop/b": "a",
    "/escape": "../../../../etc",
  });

  it("follows merged /usr: /lib/x86_64-linux-gnu/libc.so.6 is /usr/lib/x86_64-linux-gnu/libc.so.6", () => {
    assert.equal(resolver.resolve("/lib/x86_64-linux-gnu/libc.so.6"), "/usr/lib/x86_64-linux-gnu/libc.so.6");
  });

  it("follows a soname link to the versioned file through a merged-/usr parent", () => {
    assert.equal(resolver.resolve("/lib/x86_64-linux-gnu/libfoo.so.1"), "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3");
  });

  it("follows absolute link targets inside the image root, through chains (ELF interpreter, alternatives)", () => {
    assert.equal(resolver.resolve("/lib64/ld-linux-x86-64.so.2"), "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    assert.equal(resolver.resolve("/bin/awk"), "/usr/bin/mawk");
    assert.equal(resolver.resolve("/bin/sh"), "/usr/bin/dash");
  });

  it("never climbs above the image root with ..", () => {
    assert.equal(resolver.resolve("/escape/passwd"), "/etc/passwd");
    assert.equal(resolver.resolve("/../../usr/bin/../bin/tar"), "/usr/bin/tar");
  });

  it("returns undefined for a link loop and for a relative path", () => {
    assert.equal(resolver.resolve("/loop/a/x"), undefined);
    assert.equal(resolver.resolve("lib/libc.so.6"), undefined);
  });

  it("normalises repeated slashes, dot segments and a trailing slash", () => {
    assert.equal(normaliseAbsolute("//usr/./lib//x/"), "/usr/lib/x");
    assert.equal(normaliseAbsolute("relative/x"), "");
  });
});
