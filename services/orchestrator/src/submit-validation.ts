/**
 * Validation of SubmitAnalysis: every rule names the field it checks, so a caller's mistake
 * comes back as InvalidArgument with that field in the message. Defaults from the seeds are
 * applied here, once.
 */
import { VexFormat, type SubmitAnalysisRequest } from "@vexxy/proto";
import { InvalidFieldError } from "@vexxy/platform";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import type { StoredConfig, StoredVexFormat } from "./store/entities.js";

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const IMAGE_REF_TRANSPORTS = ["oci:", "oci-archive:", "docker-archive:", "docker://"] as const;
export const TIMEOUT_MIN_SECONDS = 60;
export const TIMEOUT_MAX_SECONDS = 900;
export const TIMEOUT_DEFAULT_SECONDS = 300;
const MAX_REPORT_BYTES = 64 * 1024 * 1024;
const MAX_SCRIPT_BYTES = 256 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE_NAME =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/;

const MAX_CALLBACK_URL_LENGTH = 2048;

/**
 * The shape of callback_url: an absolute http(s) URL without credentials. Whether it may be
 * used (https, public addresses after DNS resolution) is the CallbackGuard's check.
 */
function validateCallbackUrl(raw: string): string | null {
  if (raw === "") return null;
  if (raw.length > MAX_CALLBACK_URL_LENGTH) throw new InvalidFieldError("callback_url", `callback_url is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidFieldError("callback_url", `callback_url is not an absolute URL (got "${raw.slice(0, 80)}")`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidFieldError("callback_url", `callback_url must be https (got ${url.protocol.replace(/:$/, "")})`);
  }
  if (url.username !== "" || url.password !== "") throw new InvalidFieldError("callback_url", "callback_url must not carry credentials");
  return url.toString();
}

/** A submit request after validation, with defaults applied. */
export interface ValidSubmit {
  readonly imageRef: string;
  readonly imageDigest: string;
  readonly organizationId: string;
  readonly sbomId: string | null;
  readonly sbom: Uint8Array | null;
  readonly report: Uint8Array;
  /** How many (vulnerability, package) findings the report holds; 0 means there is nothing to decide. */
  readonly findingCount: number;
  readonly config: StoredConfig;
  readonly callbackUrl: string | null;
  readonly idempotencyKey: string | null;
}

/**
 * Checks a SubmitAnalysis request and applies defaults. The vulnerability report is parsed in
 * full (Grype or Trivy JSON, by @vexxy/scan-report).
 * `callerOrganizationId` (the authenticated organization) is the job's organization when given.
 * @throws InvalidFieldError naming the first bad field (a ScanFormatError, also an
 *   InvalidFieldError, for the report, e.g. `vulnerability_report.matches[3].artifact.version`).
 */
export function validateSubmit(
  req: SubmitAnalysisRequest,
  allowedTransports: readonly string[] = IMAGE_REF_TRANSPORTS,
  callerOrganizationId?: string,
): ValidSubmit {
  const imageRef = req.imageRef.trim();
  if (imageRef === "") throw new InvalidFieldError("image_ref", "image_ref is required");
  if (!allowedTransports.some((t) => imageRef.startsWith(t))) {
    throw new InvalidFieldError("image_ref", `image_ref must start with one of ${allowedTransports.join(", ")} (got "${imageRef.slice(0, 80)}")`);
  }
  if (!DIGEST_PATTERN.test(req.imageDigest)) {
    throw new InvalidFieldError("image_digest", `image_digest must be "sha256:" followed by 64 lowercase hex digits (got "${req.imageDigest.slice(0, 80)}")`);
  }
  if (req.vulnerabilityReport.length === 0) {
    throw new InvalidFieldError("vulnerability_report", "vulnerability_report is required (a Grype or Trivy JSON report)");
  }
  if (req.vulnerabilityReport.length > MAX_REPORT_BYTES) {
    throw new InvalidFieldError("vulnerability_report", `vulnerability_report is larger than ${MAX_REPORT_BYTES} bytes`);
  }
  // Read with reachability's own parser, so a report that would be refused four hops later
  // (after a sandbox run and a trace) is refused here, before any job row or event exists.
  const report = parseVulnerabilityReport(req.vulnerabilityReport);
  if (req.sbom.length > MAX_REPORT_BYTES) throw new InvalidFieldError("sbom", `sbom is larger than ${MAX_REPORT_BYTES} bytes`);
  const c = req.config;
  const timeout = c?.testTimeoutSeconds ?? TIMEOUT_DEFAULT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < TIMEOUT_MIN_SECONDS || timeout > TIMEOUT_MAX_SECONDS) {
    throw new InvalidFieldError(
      "config.test_timeout_seconds",
      `config.test_timeout_seconds must be between ${TIMEOUT_MIN_SECONDS} and ${TIMEOUT_MAX_SECONDS} (got ${timeout})`,
    );
  }
  const testScript = c?.testScript ?? "";
  if (Buffer.byteLength(testScript) > MAX_SCRIPT_BYTES) {
    throw new InvalidFieldError("config.test_script", `config.test_script is larger than ${MAX_SCRIPT_BYTES} bytes`);
  }
  const ports = [...(c?.ports ?? [])];
  for (const [i, port] of ports.entries()) {
    if (port < 1 || port > 65535) throw new InvalidFieldError(`config.ports[${i}]`, `config.ports[${i}] must be 1..65535 (got ${port})`);
  }
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(c?.environment ?? {})) {
    if (!ENV_NAME.test(name)) throw new InvalidFieldError("config.environment", `config.environment has an invalid variable name "${name.slice(0, 60)}"`);
    environment[name] = value;
  }
  const callbackUrl = validateCallbackUrl(req.callbackUrl.trim());
  const imageName = req.imageName.trim();
  // A docker repository reference, optionally tagged, never with a digest (image_digest pins it).
  if (imageName !== "" && !IMAGE_NAME.test(imageName)) {
    throw new InvalidFieldError(
      "image_name",
      `image_name must be a repository reference REPOSITORY[:TAG], e.g. ghcr.io/team/app:1.2 (got "${imageName.slice(0, 80)}")`,
    );
  }
  // The handler passes the bearer token's organization (see tenancy.ts); the request field is deprecated.
  const organizationId = callerOrganizationId ?? (req.organizationId.trim() === "" ? "default" : req.organizationId.trim());
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(organizationId)) {
    throw new InvalidFieldError("organization_id", "organization_id may hold only letters, digits, '.', '_' and '-' (1..128)");
  }
  const idempotencyKey = req.idempotencyKey.trim() === "" ? null : req.idempotencyKey.trim();
  if (idempotencyKey !== null && idempotencyKey.length > 255) {
    throw new InvalidFieldError("idempotency_key", "idempotency_key is longer than 255 characters");
  }
  return Object.freeze({
    imageRef,
    imageDigest: req.imageDigest,
    organizationId,
    sbomId: req.sbomId === "" ? null : req.sbomId,
    sbom: req.sbom.length > 0 ? req.sbom : null,
    report: req.vulnerabilityReport,
    findingCount: report.findings.length,
    config: Object.freeze({
      testScript,
      testTimeoutSeconds: timeout,
      enableFuzzing: c?.enableFuzzing ?? true,
      enableProfiling: c?.enableProfiling ?? true,
      ports: Object.freeze(ports),
      environment: Object.freeze(environment),
      imageName,
      tagIdentifiers: req.tagIdentifiers,
      vexFormats: Object.freeze(validVexFormats(req.vexFormats)),
    }),
    callbackUrl,
    idempotencyKey,
  });
}

const VEX_FORMATS: Readonly<Partial<Record<VexFormat, StoredVexFormat>>> = {
  [VexFormat.OPENVEX]: "openvex",
  [VexFormat.CYCLONEDX]: "cyclonedx",
};

/**
 * The requested VEX formats, in order; [openvex] when none is named.
 * @throws InvalidFieldError naming vex_formats[i] for an unset or unknown format or one named twice.
 */
export function validVexFormats(formats: readonly VexFormat[]): StoredVexFormat[] {
  const out: StoredVexFormat[] = [];
  for (const [i, format] of formats.entries()) {
    const name = VEX_FORMATS[format];
    if (name === undefined) {
      throw new InvalidFieldError(
        `vex_formats[${i}]`,
        `vex_formats[${i}] must be VEX_FORMAT_OPENVEX or VEX_FORMAT_CYCLONEDX (got ${VexFormat[format] ?? format})`,
      );
    }
    if (out.includes(name)) throw new InvalidFieldError(`vex_formats[${i}]`, `vex_formats[${i}] names ${name} a second time`);
    out.push(name);
  }
  return out.length > 0 ? out : ["openvex"];
}
