/** Where a job attempt's VEX lives in object storage, and the ledger stage name. */

/** The stage name of this service's ledger rows (job, "vex", attempt). */
export const VEX_STAGE = "vex";

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
