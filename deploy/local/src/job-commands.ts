/**
 * The job verbs of the CLI, against a running mesh (`vexxy up`, or a deployed one):
 *   submit IMAGE --scan REPORT ...   queue an analysis, print its job id
 *   watch JOB                        live progress until the job ends
 *   results JOB                      the verdict table (every page)
 *   vex JOB --out FILE               the signed bundle, the plain OpenVEX, the CycloneDX VEX or the runtime SBOM
 *   cancel JOB                       cancel a queued or running job
 *   list                             jobs, newest first, with filters and paging
 * Every verb takes `--json` (machine-readable output on stdout: protobuf JSON of the answer,
 * one JSON object per line for `watch`). Exit status: 0 done; 1 a usage mistake, a missing file
 * or a request the mesh refused (its code and message printed); 2 `watch` saw the job end
 * FAILED or CANCELLED. Tables are drawn with cli-table3, progress with cli-progress.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { toJsonString, type JsonWriteOptions } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import Table from "cli-table3";
import {
  AnalysisSchema,
  AnalysisStatus,
  GetAnalysisResultsResponseSchema,
  ListAnalysesResponseSchema,
  SubmitAnalysisResponseSchema,
  VexFormat,
  type Analysis,
  type GetAnalysisResultsResponse,
} from "@vexxy/proto";
import { resolveImageInput } from "./image-input.js";
import { createAnalysisProgress } from "./progress-bar.js";
import { remoteOrchestrator, resolveRemote, RemoteUsageError, type RemoteOptions } from "./remote-mesh.js";

const JSON_OPTIONS: Partial<JsonWriteOptions> = { alwaysEmitImplicit: false };

/** The job ended FAILED or CANCELLED (exit status 2). */
export const EXIT_JOB_ENDED_BADLY = 2;

const TERMINAL = new Set([AnalysisStatus.COMPLETE, AnalysisStatus.FAILED, AnalysisStatus.CANCELLED]);

function statusName(status: AnalysisStatus): string {
  return AnalysisStatus[status] ?? String(status);
}

function iso(ts: Parameters<typeof timestampDate>[0] | undefined): string {
  return ts === undefined ? "-" : timestampDate(ts).toISOString();
}

async function requireFile(option: string, file: string | undefined): Promise<void> {
  if (file === undefined) return;
  const isFile = await stat(file).then(
    (st) => st.isFile(),
    () => false,
  );
  if (!isFile) throw new RemoteUsageError(`${option}: no such file: ${file}`);
}

/** `--format` values of submit and analyze, as the request's VexFormat list. */
export function parseVexFormats(format: string | undefined): VexFormat[] {
  switch (format ?? "openvex") {
    case "openvex":
      return [VexFormat.OPENVEX];
    case "cyclonedx":
      return [VexFormat.CYCLONEDX];
    case "both":
      return [VexFormat.OPENVEX, VexFormat.CYCLONEDX];
    default:
      throw new RemoteUsageError(`--format: must be openvex, cyclonedx or both, got ${format}`);
  }
}

export interface SubmitCommandOptions extends RemoteOptions {
  readonly image: string;
  readonly scan: string;
  readonly sbom?: string;
  readonly port: readonly number[];
  readonly testScript?: string;
  readonly timeout?: number;
  readonly imageName?: string;
  readonly tagIdentifiers?: boolean;
  readonly format?: string;
  readonly callbackUrl?: string;
  readonly idempotencyKey?: string;
  readonly json?: boolean;
}

/** `vexxy submit`: queues one analysis and prints its job id. */
export async function runSubmitCommand(opts: SubmitCommandOptions): Promise<number> {
  const remote = resolveRemote(opts);
  await requireFile("--scan", opts.scan);
  await requireFile("--sbom", opts.sbom);
  await requireFile("--test-script", opts.testScript);
  const vexFormats = parseVexFormats(opts.format);
  const image = await resolveImageInput(opts.image);
  const imageName = opts.imageName ?? image.imageName;
  if (imageName === undefined && !image.imageRef.startsWith("docker://")) {
    throw new RemoteUsageError(`IMAGE: ${opts.image} carries no repository name: give --image-name REPOSITORY[:TAG], the name scanners will see`);
  }
  const client = remoteOrchestrator(remote);
  const answer = await client.submitAnalysis({
    imageRef: image.imageRef,
    imageDigest: image.imageDigest,
    imageName: imageName ?? "",
    tagIdentifiers: opts.tagIdentifiers === true,
    vulnerabilityReport: await readFile(opts.scan),
    sbom: opts.sbom !== undefined ? await readFile(opts.sbom) : new Uint8Array(),
    vexFormats,
    callbackUrl: opts.callbackUrl ?? "",
    idempotencyKey: opts.idempotencyKey ?? "",
    config: {
      testScript: opts.testScript !== undefined ? await readFile(opts.testScript, "utf8") : "",
      ports: [...opts.port],
      ...(opts.timeout !== undefined ? { testTimeoutSeconds: opts.timeout } : {}),
    },
  });
  if (opts.json === true) {
    console.log(toJsonString(SubmitAnalysisResponseSchema, answer, JSON_OPTIONS));
  } else {
    console.log(`${answer.jobId} ${statusName(answer.status)}`);
    process.stderr.write(`watch it with: vexxy watch ${answer.jobId}\n`);
  }
  return 0;
}

/** `vexxy watch`: every change of a job until it ends; exit 2 when it ends FAILED or CANCELLED. */
export async function runWatchCommand(opts: RemoteOptions & { readonly jobId: string; readonly json?: boolean }): Promise<number> {
  const client = remoteOrchestrator(resolveRemote(opts));
  const progress = opts.json === true ? undefined : createAnalysisProgress();
  let last: Analysis | undefined;
  try {
    for await (const update of client.watchAnalysis({ jobId: opts.jobId })) {
      const a = update.analysis;
      if (a === undefined) continue;
      last = a;
      if (opts.json === true) console.log(toJsonString(AnalysisSchema, a, JSON_OPTIONS));
      else progress?.update(a.currentPhase, a.progressPercent, statusName(a.status));
    }
  } finally {
    progress?.stop();
  }
  if (last === undefined || !TERMINAL.has(last.status)) {
    console.error(`vexxy: the watch of ${opts.jobId} ended before the job did (last status ${last === undefined ? "none" : statusName(last.status)})`);
    return 1;
  }
  if (opts.json !== true) {
    const error = last.errorMessage === "" ? "" : `: ${last.errorMessage}`;
    console.log(`${last.jobId} ${statusName(last.status)}${error}`);
  }
  return last.status === AnalysisStatus.COMPLETE ? 0 : EXIT_JOB_ENDED_BADLY;
}

/** Reads every page of a job's results; the VEX documents come with the first page only. */
async function allResults(opts: RemoteOptions & { readonly jobId: string }, omitVex: boolean): Promise<GetAnalysisResultsResponse> {
  const client = remoteOrchestrator(resolveRemote(opts));
  const first = await client.getAnalysisResults({ jobId: opts.jobId, omitVex });
  let token = first.nextPageToken;
  while (token !== "") {
    const page = await client.getAnalysisResults({ jobId: opts.jobId, pageToken: token, omitVex: true });
    first.reachabilityResults.push(...page.reachabilityResults);
    token = page.nextPageToken;
  }
  first.nextPageToken = "";
  return first;
}

/** `vexxy results`: the verdict table of a finished job (every page), or all of it as JSON. */
export async function runResultsCommand(opts: RemoteOptions & { readonly jobId: string; readonly json?: boolean }): Promise<number> {
  const results = await allResults(opts, true);
  if (opts.json === true) {
    console.log(toJsonString(GetAnalysisResultsResponseSchema, results, JSON_OPTIONS));
    return 0;
  }
  const table = new Table({ head: ["CVE", "PACKAGE", "VERSION", "STATUS", "JUSTIFICATION", "CONF"], style: { head: [], border: [] } });
  for (const r of results.reachabilityResults) {
    table.push([r.cveId, r.packageName, r.packageVersion, r.status, r.justification || "-", r.confidenceScore.toFixed(2)]);
  }
  console.log(table.toString());
  const p = results.executionProfile;
  if (p !== undefined) {
    console.log(
      `trace ${p.traceComplete ? "complete" : `INCOMPLETE (${p.lossReasons.join(", ")})`}; workload ${p.workloadOutcome}; ` +
        `${p.filesAccessed} files, ${p.executablesRun} executables; ${p.durationSeconds.toFixed(1)} s`,
    );
  }
  const c = results.vexConformance;
  if (c !== undefined && c.summary !== "") console.log(c.summary);
  console.log(`${results.reachabilityResults.length} results`);
  return 0;
}

/** What `vexxy vex` writes. */
export type VexKind = "bundle" | "openvex" | "cyclonedx" | "cyclonedx-bundle" | "sbom";

const VEX_KINDS: readonly VexKind[] = ["bundle", "openvex", "cyclonedx", "cyclonedx-bundle", "sbom"];

/** The requested document out of a results answer, or undefined when the job has none of that kind. */
function pickDocument(results: GetAnalysisResultsResponse, kind: VexKind): string | undefined {
  const byFormat = (format: VexFormat) => results.vexDocuments.find((d) => d.format === format);
  const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s);
  switch (kind) {
    case "bundle":
      return nonEmpty(byFormat(VexFormat.OPENVEX)?.bundle) ?? nonEmpty(results.vexBundle);
    case "openvex":
      return nonEmpty(byFormat(VexFormat.OPENVEX)?.document) ?? nonEmpty(results.vexDocument);
    case "cyclonedx":
      return nonEmpty(byFormat(VexFormat.CYCLONEDX)?.document);
    case "cyclonedx-bundle":
      return nonEmpty(byFormat(VexFormat.CYCLONEDX)?.bundle);
    case "sbom":
      return nonEmpty(byFormat(VexFormat.CYCLONEDX)?.runtimeSbom);
  }
}

/** `vexxy vex`: writes one of a job's documents to a file (or stdout with `--out -`). */
export async function runVexCommand(
  opts: RemoteOptions & { readonly jobId: string; readonly kind?: string; readonly out: string; readonly json?: boolean },
): Promise<number> {
  const kind = (opts.kind ?? "bundle") as VexKind;
  if (!VEX_KINDS.includes(kind)) throw new RemoteUsageError(`--kind: must be one of ${VEX_KINDS.join(", ")}, got ${opts.kind}`);
  const results = await allResults(opts, false);
  const document = pickDocument(results, kind);
  if (document === undefined) {
    console.error(`vexxy: job ${opts.jobId} has no ${kind} document (CycloneDX needs --format cyclonedx or both at submit)`);
    return 1;
  }
  if (opts.out === "-") process.stdout.write(document.endsWith("\n") ? document : `${document}\n`);
  else await writeFile(opts.out, document);
  if (opts.json === true && opts.out !== "-") console.log(JSON.stringify({ jobId: opts.jobId, kind, file: opts.out, bytes: Buffer.byteLength(document) }));
  else if (opts.out !== "-") console.log(`${kind} of ${opts.jobId} written to ${opts.out} (${Buffer.byteLength(document)} bytes)`);
  return 0;
}

/** `vexxy cancel`: cancels a job; prints its state after the cancel. */
export async function runCancelCommand(opts: RemoteOptions & { readonly jobId: string; readonly reason?: string; readonly json?: boolean }): Promise<number> {
  const client = remoteOrchestrator(resolveRemote(opts));
  const answer = await client.cancelAnalysis({ jobId: opts.jobId, reason: opts.reason ?? "" });
  const a = answer.analysis;
  if (opts.json === true) console.log(a === undefined ? "{}" : toJsonString(AnalysisSchema, a, JSON_OPTIONS));
  else console.log(`${opts.jobId} ${a === undefined ? "cancelled" : statusName(a.status)}`);
  return 0;
}

/** Parses a `--status` value (queued, running, ..., case-insensitive). */
export function parseStatus(value: string | undefined): AnalysisStatus {
  if (value === undefined) return AnalysisStatus.UNSPECIFIED;
  const key = value.toUpperCase() as keyof typeof AnalysisStatus;
  const status = AnalysisStatus[key];
  if (typeof status !== "number" || status === AnalysisStatus.UNSPECIFIED) {
    throw new RemoteUsageError(`--status: must be one of queued, running, analyzing, complete, failed, cancelled; got ${value}`);
  }
  return status;
}

function parseInstant(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RemoteUsageError(`${option}: not a date/time (ISO 8601, e.g. 2026-12-01T00:00:00Z): ${value}`);
  return d;
}

export interface ListCommandOptions extends RemoteOptions {
  readonly status?: string;
  readonly imageDigest?: string;
  readonly imageRef?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
  readonly pageToken?: string;
  readonly json?: boolean;
}

/** `vexxy list`: one page of jobs, newest first; prints the next page's token when there is one. */
export async function runListCommand(opts: ListCommandOptions): Promise<number> {
  const client = remoteOrchestrator(resolveRemote(opts));
  const after = parseInstant("--since", opts.since);
  const before = parseInstant("--until", opts.until);
  const page = await client.listAnalyses({
    status: parseStatus(opts.status),
    imageDigest: opts.imageDigest ?? "",
    imageRef: opts.imageRef ?? "",
    pageSize: opts.limit ?? 20,
    pageToken: opts.pageToken ?? "",
    ...(after !== undefined ? { createdAfter: timestampFromDate(after) } : {}),
    ...(before !== undefined ? { createdBefore: timestampFromDate(before) } : {}),
  });
  if (opts.json === true) {
    console.log(toJsonString(ListAnalysesResponseSchema, page, JSON_OPTIONS));
    return 0;
  }
  const table = new Table({ head: ["JOB", "STATUS", "PROGRESS", "IMAGE", "CREATED"], style: { head: [], border: [] } });
  for (const a of page.analyses) {
    table.push([a.jobId, statusName(a.status), `${a.progressPercent}% ${a.currentPhase}`, `${a.imageRef}\n${a.imageDigest}`, iso(a.createdAt)]);
  }
  console.log(table.toString());
  if (page.nextPageToken !== "") console.log(`more: vexxy list --page-token ${page.nextPageToken}`);
  return 0;
}
