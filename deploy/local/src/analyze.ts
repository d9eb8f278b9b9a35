/**
 * One analysis through a running mesh: submit the image and its scan to the orchestrator,
 * show progress from WatchAnalysis, then write results.json, vex-signing.pub.pem and, per format
 * asked for, openvex.json and openvex.sigstore.json (OpenVEX) or cyclonedx-vex.json,
 * cyclonedx-vex.sigstore.json and sbom.runtime.cdx.json (CycloneDX) into the output directory.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@vexxy/auth";
import { AnalysisService, AnalysisStatus, VexArtifact, VexFormat, type GetAnalysisResultsResponse } from "@vexxy/proto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ImageInput } from "./image-input.js";
import { downloadVexTo } from "./vex-download-client.js";

export interface AnalyzeRequest {
  readonly endpoint: string;
  /** Bearer JWT sent on every call. */
  readonly token: string;
  readonly image: ImageInput;
  readonly scanFile: string;
  readonly sbomFile?: string;
  readonly ports: readonly number[];
  readonly testScriptFile?: string;
  readonly timeoutSeconds?: number;
  readonly outDir: string;
  readonly onProgress: (phase: string, percent: number, status: string) => void;
  /** `REPOSITORY[:TAG]` naming the VEX product; default: the name the image carries. */
  readonly imageName?: string;
  /** Also identify the VEX product by tag (for scans of the local layout). */
  readonly tagIdentifiers?: boolean;
  /** The VEX formats to produce; default OpenVEX only. */
  readonly formats?: readonly VexFormat[];
}

export interface AnalyzeOutcome {
  readonly jobId: string;
  readonly results: GetAnalysisResultsResponse;
  /** The files written: results and publicKey always, the others per format. */
  readonly files: Readonly<
    Record<"results" | "publicKey", string> & Partial<Record<"openvex" | "bundle" | "cyclonedx" | "cyclonedxBundle" | "runtimeSbom", string>>
  >;
}

/** Raised when the analysis ends FAILED or CANCELLED; carries the job's error message. */
export class AnalysisEndedError extends Error {
  constructor(
    readonly jobId: string,
    readonly status: string,
    message: string,
  ) {
    super(`analysis ${jobId} ended ${status}: ${message}`);
    this.name = "AnalysisEndedError";
  }
}

/** Creates an orchestrator client over gRPC (HTTP/2) that sends the bearer token. */
export function orchestratorClient(endpoint: string, token: string): Client<typeof AnalysisService> {
  return createClient(AnalysisService, createGrpcTransport({ baseUrl: endpoint, interceptors: [bearerInterceptor(token)] }));
}

/**
 * Runs one analysis to its end.
 * @throws AnalysisEndedError when the job fails or is cancelled; ConnectError for a rejected request.
 */
export async function analyze(req: AnalyzeRequest): Promise<AnalyzeOutcome> {
  const client = orchestratorClient(req.endpoint, req.token);
  const report = await readFile(req.scanFile);
  const sbom = req.sbomFile !== undefined ? await readFile(req.sbomFile) : new Uint8Array();
  const testScript = req.testScriptFile !== undefined ? await readFile(req.testScriptFile, "utf8") : "";
  const submitted = await client.submitAnalysis({
    imageRef: req.image.imageRef,
    imageDigest: req.image.imageDigest,
    imageName: req.imageName ?? req.image.imageName ?? "",
    tagIdentifiers: req.tagIdentifiers === true,
    vexFormats: [...(req.formats ?? [])],
    vulnerabilityReport: report,
    sbom,
    config: {
      testScript,
      ports: [...req.ports],
      ...(req.timeoutSeconds !== undefined ? { testTimeoutSeconds: req.timeoutSeconds } : {}),
    },
  });
  const jobId = submitted.jobId;
  let final = AnalysisStatus.UNSPECIFIED;
  let error = "";
  for await (const update of client.watchAnalysis({ jobId })) {
    const a = update.analysis;
    if (a === undefined) continue;
    req.onProgress(a.currentPhase, a.progressPercent, AnalysisStatus[a.status]);
    final = a.status;
    error = a.errorMessage;
  }
  if (final !== AnalysisStatus.COMPLETE) {
    throw new AnalysisEndedError(jobId, AnalysisStatus[final], error === "" ? "no error message" : error);
  }
  const results = await client.getAnalysisResults({ jobId });
  await mkdir(req.outDir, { recursive: true });
  const formats = req.formats === undefined || req.formats.length === 0 ? [VexFormat.OPENVEX] : req.formats;
  const files: { -readonly [K in keyof AnalyzeOutcome["files"]]: AnalyzeOutcome["files"][K] } = {
    results: join(req.outDir, "results.json"),
    publicKey: join(req.outDir, "vex-signing.pub.pem"),
  };
  if (formats.includes(VexFormat.OPENVEX)) {
    files.openvex = join(req.outDir, "openvex.json");
    files.bundle = join(req.outDir, "openvex.sigstore.json");
    // Streamed, not taken from the results: a large scan's documents exceed one message's limit.
    await downloadVexTo(client, jobId, VexArtifact.DOCUMENT, files.openvex);
    await downloadVexTo(client, jobId, VexArtifact.BUNDLE, files.bundle);
  }
  if (formats.includes(VexFormat.CYCLONEDX)) {
    const cdx = results.vexDocuments.find((d) => d.format === VexFormat.CYCLONEDX);
    if (cdx === undefined || cdx.document === "") {
      throw new AnalysisEndedError(jobId, "COMPLETE", "the results carry no CycloneDX VEX (too large to send inline, or the mesh predates CycloneDX)");
    }
    files.cyclonedx = join(req.outDir, "cyclonedx-vex.json");
    files.cyclonedxBundle = join(req.outDir, "cyclonedx-vex.sigstore.json");
    files.runtimeSbom = join(req.outDir, "sbom.runtime.cdx.json");
    await writeFile(files.cyclonedx, cdx.document);
    await writeFile(files.cyclonedxBundle, cdx.bundle);
    await writeFile(files.runtimeSbom, cdx.runtimeSbom);
  }
  await writeFile(files.publicKey, results.signingPublicKeyPem);
  const rows = results.reachabilityResults.map((r) => ({
    vulnerability: r.cveId,
    package: r.packageName,
    version: r.packageVersion,
    purl: r.packagePurl,
    verdict: r.status,
    justification: r.justification === "" ? null : r.justification,
    confidence: r.confidenceScore,
    confidenceFactors: r.confidenceFactors.map((f) => ({ name: f.name, value: f.value, effect: f.effect, detail: f.detail })),
    reason: r.reason,
    evidence: r.evidence,
  }));
  const profile = results.executionProfile;
  await writeFile(
    files.results,
    `${JSON.stringify(
      {
        jobId,
        imageRef: req.image.imageRef,
        imageDigest: req.image.imageDigest,
        vexId: results.generatedVexId,
        executionProfile: profile === undefined ? null : { ...profile, syscalls: Number(profile.syscalls), $typeName: undefined },
        results: rows,
      },
      null,
      2,
    )}\n`,
  );
  return { jobId, results, files };
}
