/** Temporary directories that tests remove when done. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

/** Creates a fresh directory under the OS temp dir, named with prefix. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `vexxy-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
