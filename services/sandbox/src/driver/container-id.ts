/** Container ids: `vexxy-<first 12 of the job id>-<attempt>`, the prefix marking ours in `runc list`. */
import { InvalidSandboxSpecError } from "./driver-errors.js";

/** The prefix of every container this product creates. */
export const CONTAINER_ID_PREFIX = "vexxy-";

/**
 * The container id of a job attempt.
 * @throws InvalidSandboxSpecError when the job id is empty or the attempt is not a positive integer.
 */
export function containerIdFor(jobId: string, attempt: number): string {
  if (jobId.trim() === "") throw new InvalidSandboxSpecError("job_id", "job_id is required for a container id");
  if (!Number.isInteger(attempt) || attempt < 1) throw new InvalidSandboxSpecError("attempt", `attempt must be a positive integer (got ${attempt})`);
  // runc accepts [\w+.-] only; anything else in a job id is replaced rather than trusted.
  const head = jobId.slice(0, 12).replace(/[^A-Za-z0-9_.-]/g, "_");
  return `${CONTAINER_ID_PREFIX}${head}-${attempt}`;
}

/** Whether id is a well-formed id of ours (guards every runtime command line). */
export function isOurContainerId(id: string): boolean {
  return id.startsWith(CONTAINER_ID_PREFIX) && /^[A-Za-z0-9_.-]{1,128}$/.test(id);
}
