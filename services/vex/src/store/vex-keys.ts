/** Where a job attempt's VEX lives in object storage, and the ledger stage name. */
export const VEX_STAGE = "vex";

/** Object keys of one job attempt's VEX artifacts. */
export function vexKeys(jobId: string, attempt: number): { document: string; bundle: string; publicKey: string } {
  const base = `jobs/${jobId}/attempts/${attempt}`;
  return { document: `${base}/openvex.json`, bundle: `${base}/openvex.sigstore.json`, publicKey: `${base}/vex-signing.pub.pem` };
}
