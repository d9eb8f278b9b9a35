import assert from "node:assert/strict";
import { create, toJsonString } from "@bufbuild/protobuf";
import { ProfileReadySchema, WorkloadOutcome } from "@vexxy/proto";
import { ExecutionProfileSchema, ImageCatalogueSchema } from "@vexxy/proto";
import { decodeCatalogue, decodeProfile, tightenProfile } from "../src/artifacts.js";
import { ArtifactDecodeError } from "../src/errors.js";
import { access, catalogue, profile } from "./helpers.js";

describe("input artifacts", () => {
  it("decodes a catalogue and a profile from their protobuf JSON, ignoring fields it does not know", () => {
    const cat = catalogue([{ name: "tar", version: "1", files: ["/bin/tar"] }]);
    const json = JSON.parse(toJsonString(ImageCatalogueSchema, cat)) as Record<string, unknown>;
    json["addedLater"] = true;
    assert.equal(decodeCatalogue(Buffer.from(JSON.stringify(json))).packages[0]?.name, "tar");
    const run = profile([access("/usr/bin/tar", "exec", 3)]);
    assert.equal(decodeProfile(Buffer.from(toJsonString(ExecutionProfileSchema, run))).files[0]?.countOk, 3n);
  });

  it("rejects bytes that are not a catalogue with ArtifactDecodeError naming the artifact", () => {
    assert.throws(
      () => decodeCatalogue(Buffer.from('{"packages": 7}')),
      (error: unknown) => error instanceof ArtifactDecodeError && error.artifact === "catalogue",
    );
    assert.throws(
      () => decodeProfile(Buffer.from("nope")),
      (error: unknown) => error instanceof ArtifactDecodeError && error.artifact === "profile",
    );
  });

  it("lets the profile.ready event make a profile incomplete, never complete", () => {
    const complete = profile([access("/usr/bin/tar", "exec")]);
    const lossy = tightenProfile(
      complete,
      create(ProfileReadySchema, { complete: false, lossReasons: ["tracer exited early"], outcome: WorkloadOutcome.EXITED_OK }),
    );
    assert.equal(lossy.complete, false);
    assert.deepEqual(lossy.lossReasons, ["tracer exited early"]);
    const incomplete = profile([access("/usr/bin/tar", "exec")], { complete: false, outcome: WorkloadOutcome.UNSPECIFIED });
    const stays = tightenProfile(incomplete, create(ProfileReadySchema, { complete: true, outcome: WorkloadOutcome.TIMEOUT_RUNNING }));
    assert.equal(stays.complete, false);
    assert.equal(stays.outcome, WorkloadOutcome.TIMEOUT_RUNNING, "an outcome the profile lacks comes from the event");
  });
});
