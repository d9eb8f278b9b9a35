import { strict as assert } from "node:assert";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { AnalysisRequestedSchema, allFiles } from "@vexxy/proto";

describe("@vexxy/proto", () => {
  it("round-trips an event payload through its binary encoding", () => {
    const msg = create(AnalysisRequestedSchema, { job: { jobId: "j1", attempt: 2 }, config: { testTimeoutSeconds: 300 } });
    const back = fromBinary(AnalysisRequestedSchema, toBinary(AnalysisRequestedSchema, msg));
    assert.equal(back.job?.jobId, "j1");
    assert.equal(back.job?.attempt, 2);
    assert.equal(back.config?.testTimeoutSeconds, 300);
  });
  it("lists every generated file for reflection", () => {
    const names = allFiles.map((f) => f.proto.name);
    assert.ok(names.includes("vexxy/orchestrator/v1/orchestrator.proto"));
    assert.ok(names.includes("grpc/reflection/v1/reflection.proto"));
  });
});

describe("@vexxy/proto exports", () => {
  it("exports every generated message schema under one unambiguous name (a clash would drop it from the star export)", async () => {
    const index = (await import("@vexxy/proto")) as Record<string, unknown>;
    const missing: string[] = [];
    for (const file of allFiles) {
      if (file.proto.package.startsWith("grpc.")) continue;
      for (const message of file.messages) if (index[`${message.name}Schema`] === undefined) missing.push(`${file.proto.package}.${message.name}`);
    }
    assert.deepEqual(missing, []);
  });
});
