import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ConflictError,
  FailedPreconditionError,
  InvalidFieldError,
  NotFoundError,
  PermissionError,
  QuotaExceededError,
  UnavailableError,
  VexxyError,
  createLogger,
  toConnectError,
} from "@vexxy/platform";

function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger("errors-test", { level: "debug", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

describe("errors", () => {
  it("maps InvalidFieldError to InvalidArgument with a message naming the field, keeping the cause", () => {
    const { logger, lines } = capture();
    const cause = new SyntaxError("Unexpected token");
    const err = new InvalidFieldError("vulnerability_report", "is not valid JSON", { cause });
    assert.equal(err.name, "InvalidFieldError");
    assert.equal(err.field, "vulnerability_report");
    assert.equal(err.cause, cause);
    const mapped = toConnectError(err, logger);
    assert.equal(mapped.code, Code.InvalidArgument);
    assert.equal(mapped.rawMessage, "vulnerability_report: is not valid JSON");
    assert.equal(mapped.cause, err);
    assert.equal(lines.length, 0, "a caller's mistake is not logged as an internal error");
  });

  it("keeps a message that already names the field as written", () => {
    assert.equal(new InvalidFieldError("job_id", "job_id must be a UUID").message, "job_id must be a UUID");
  });

  it("maps each error kind to its Connect code", () => {
    const { logger } = capture();
    const cases: [VexxyError, Code][] = [
      [new NotFoundError("job_id x: no such analysis"), Code.NotFound],
      [new FailedPreconditionError("not complete"), Code.FailedPrecondition],
      [new QuotaExceededError("monthly quota used"), Code.ResourceExhausted],
      [new UnavailableError("nats down"), Code.Unavailable],
      [new PermissionError("not your job"), Code.PermissionDenied],
      [new ConflictError("exists"), Code.AlreadyExists],
    ];
    for (const [err, code] of cases) {
      const mapped = toConnectError(err, logger);
      assert.equal(mapped.code, code, err.name);
      assert.equal(mapped.rawMessage, err.message);
    }
  });

  it("passes a ConnectError through unchanged", () => {
    const original = new ConnectError("deadline", Code.DeadlineExceeded);
    assert.equal(toConnectError(original, capture().logger), original);
  });

  it("turns an unknown error into Internal with a generic message, logging the cause instead of sending it", () => {
    const { logger, lines } = capture();
    const secret = new Error("connect ECONNREFUSED postgres://admin:hunter2@db:5432");
    const mapped = toConnectError(secret, logger);
    assert.equal(mapped.code, Code.Internal);
    assert.equal(mapped.rawMessage, "internal error");
    assert.doesNotMatch(mapped.message, /hunter2/);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.["level"], "error");
    assert.match(JSON.stringify(lines[0]), /hunter2/);
  });

  it("treats a bare VexxyError and a thrown string as internal", () => {
    const { logger, lines } = capture();
    assert.equal(toConnectError(new VexxyError("ledger row missing"), logger).rawMessage, "internal error");
    assert.equal(toConnectError("boom", logger).code, Code.Internal);
    assert.equal(lines.length, 2);
  });
});
