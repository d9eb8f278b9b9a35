/**
 * Shared set-up of the cross-service tests: the embedded stack (real Postgres, nats-server,
 * file store, five service processes), the demo image, and a plain @grpc/grpc-js client of
 * the public API (the way VEXxy core calls us).
 */
import { readFile } from "node:fs/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  AnalysisService,
  AnalysisStatus,
  GetAnalysisRequestSchema,
  SubmitAnalysisRequestSchema,
  WatchAnalysisRequestSchema,
  type Analysis,
  type SubmitAnalysisRequest,
} from "@vexxy/proto";
import { createGrpcJsClient, type GrpcJsClient } from "@vexxy/testkit";
import { buildDemoImage, resolveImageInput, startEmbeddedStack, type EmbeddedStack, type EmbeddedStackOptions } from "@vexxy/deploy-local";

export type ApiClient = GrpcJsClient<typeof AnalysisService>;

export interface DemoInput {
  readonly imageRef: string;
  readonly imageDigest: string;
  readonly scan: Buffer;
  readonly expected: ExpectedVerdict[];
}

export interface ExpectedVerdict {
  readonly vulnerability: string;
  readonly package: string;
  readonly status: string;
  readonly justification?: string;
}

let demo: Promise<DemoInput> | undefined;

/** Builds (once per process) or reuses the demo image and reads its scan and expected verdicts. */
export function demoInput(): Promise<DemoInput> {
  demo ??= (async () => {
    const built = await buildDemoImage(() => undefined);
    const image = await resolveImageInput(built.ociLayoutDir);
    const expectedRaw = JSON.parse(await readFile(built.expectedVerdictsFile, "utf8")) as { verdicts?: ExpectedVerdict[] } | ExpectedVerdict[];
    const expected = Array.isArray(expectedRaw) ? expectedRaw : (expectedRaw.verdicts ?? []);
    return { ...image, scan: await readFile(built.scanFile), expected };
  })();
  return demo;
}

/** Starts the embedded stack for a test file. */
export async function startMesh(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  return await startEmbeddedStack(options);
}

/** A grpc-js client of the orchestrator of a running stack, sending the stack's dev token (or `token`). */
export function apiClient(stack: EmbeddedStack, token: string = stack.devToken): ApiClient {
  return createGrpcJsClient(AnalysisService, stack.urls.orchestrator.replace(/^http:\/\//, ""), { metadata: { authorization: `Bearer ${token}` } });
}

/** A submit request for the demo image. */
export function demoSubmit(
  input: DemoInput,
  overrides: Exclude<MessageInitShape<typeof SubmitAnalysisRequestSchema>, SubmitAnalysisRequest> = {},
): SubmitAnalysisRequest {
  return create(SubmitAnalysisRequestSchema, {
    imageRef: input.imageRef,
    imageDigest: input.imageDigest,
    // The repository the demo is pushed as: names the VEX product (a layout's bare tag does not).
    imageName: "registry.example.com/vexxy/demo:demo",
    vulnerabilityReport: input.scan,
    config: { testTimeoutSeconds: 60 },
    ...overrides,
  });
}

const FINAL = new Set([AnalysisStatus.COMPLETE, AnalysisStatus.FAILED, AnalysisStatus.CANCELLED]);

/** Polls GetAnalysis until pred holds; returns the analysis. */
export async function waitFor(client: ApiClient, jobId: string, pred: (a: Analysis) => boolean, timeoutMs: number): Promise<Analysis> {
  const deadline = Date.now() + timeoutMs;
  let last: Analysis | undefined;
  while (Date.now() < deadline) {
    const res = await client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId }));
    last = res.analysis;
    if (last !== undefined && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `job ${jobId} did not reach the expected state within ${timeoutMs} ms (last: ${last ? `${AnalysisStatus[last.status]} ${last.currentPhase} ${last.errorMessage}` : "none"})`,
  );
}

/** Follows WatchAnalysis until the job ends; returns every update seen. */
export async function watchToEnd(client: ApiClient, jobId: string): Promise<Analysis[]> {
  const seen: Analysis[] = [];
  for await (const update of client.serverStream("watchAnalysis", create(WatchAnalysisRequestSchema, { jobId }))) {
    if (update.analysis !== undefined) seen.push(update.analysis);
    if (update.analysis !== undefined && FINAL.has(update.analysis.status)) break;
  }
  return seen;
}

/** Whether a status is final. */
export function isFinalStatus(status: AnalysisStatus): boolean {
  return FINAL.has(status);
}

/** The mesh, client and demo input of a test file, set by its before() hook. */
export interface MeshContext {
  stack: EmbeddedStack;
  client: ApiClient;
  demo: DemoInput;
}

/** Registers before/after hooks that start the embedded mesh for the enclosing describe and stop it. */
export function useMesh(): MeshContext {
  const ctx = {} as MeshContext;
  before(async () => {
    ctx.demo = await demoInput();
    ctx.stack = await startMesh();
    ctx.client = apiClient(ctx.stack);
  });
  after(async () => {
    ctx.client?.close();
    await ctx.stack?.stop();
  });
  return ctx;
}
