/**
 * Tenancy and entitlement rules of the public API. Every job belongs to the organization of the
 * token that submitted it; a caller sees only its own organization's jobs, and another
 * organization's job is reported NotFound exactly like a job that does not exist (no oracle of
 * existence). The deprecated organization_id request fields may only repeat the token's claim.
 */
import { PermissionError } from "@vexxy/platform";
import type { Caller } from "@vexxy/auth";

/** The feature the whole AnalysisService sells: running an image under the tracer. */
export const RUNTIME_ANALYSIS = "runtime analysis";

/**
 * Checks that the caller's tier includes runtime analysis.
 * @throws PermissionError naming the tier and the tiers that include it.
 */
export function requireRuntimeAnalysis(caller: Caller, tiers: readonly string[]): void {
  if (tiers.includes(caller.tier)) return;
  throw new PermissionError(
    `${RUNTIME_ANALYSIS} is not part of the ${caller.tier === "" ? "(no tier)" : `"${caller.tier}"`} tier (included in: ${tiers.join(", ")})`,
  );
}

/**
 * The organization a request acts for: always the caller's. A deprecated organization_id field,
 * when set, must repeat it.
 * @throws PermissionError naming the field when it names another organization.
 */
export function requestOrganization(caller: Caller, field: string, requested: string): string {
  const value = requested.trim();
  if (value !== "" && value !== caller.organizationId) {
    throw new PermissionError(`${field}: the bearer token is for another organization (leave ${field} empty; the token's organization is used)`);
  }
  return caller.organizationId;
}
