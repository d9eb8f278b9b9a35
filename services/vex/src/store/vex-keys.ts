/** Where a job attempt's VEX lives in object storage, and the ledger stage name and row format. */
import { Subjects } from "@vexxy/events";
import type { StageRecordFormat } from "@vexxy/stage";
import type { VexFormat } from "../writers/vex-writer.js";

/** The stage name of this service's ledger rows (job, "vex", attempt). */
export const VEX_STAGE = "vex";

/** A done row records the vex.signed event (rows before the typed outcome: a JSON string under "signed"). */
export const VEX_RECORD_FORMAT: StageRecordFormat<typeof Subjects.vexSigned, never> = { done: Subjects.vexSigned, legacyEventKey: "signed" };

/**
 * Object keys of one job attempt's VEX artifacts: jobs/<job>/attempts/<n>/openvex.json,
 * openvex.sigstore.json, vex-signing.pub.pem (the names the CLI writes too) and
 * vex-conformance.json (the self-check's per-statement results). Never throws.
 */
export function vexKeys(jobId: string, attempt: number): { document: string; bundle: string; publicKey: string; conformance: string } {
  const base = `jobs/${jobId}/attempts/${attempt}`;
  return {
    document: `${base}/openvex.json`,
    bundle: `${base}/openvex.sigstore.json`,
    publicKey: `${base}/vex-signing.pub.pem`,
    conformance: `${base}/vex-conformance.json`,
  };
}

/**
 * Object keys of one format's artifacts of a job attempt, named as the CLI writes them:
 * openvex.json and openvex.sigstore.json; cyclonedx-vex.json, cyclonedx-vex.sigstore.json and
 * the runtime SBOM sbom.runtime.cdx.json. Never throws.
 */
export function vexDocumentKeys(jobId: string, attempt: number, format: VexFormat): { document: string; bundle: string; runtimeSbom?: string } {
  const base = `jobs/${jobId}/attempts/${attempt}`;
  if (format === "cyclonedx") {
    return { document: `${base}/cyclonedx-vex.json`, bundle: `${base}/cyclonedx-vex.sigstore.json`, runtimeSbom: `${base}/sbom.runtime.cdx.json` };
  }
  return { document: `${base}/openvex.json`, bundle: `${base}/openvex.sigstore.json` };
}
