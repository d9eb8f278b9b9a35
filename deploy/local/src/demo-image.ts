/**
 * The bundled demo image: built by deploy/local/demo-image/build.sh from the package
 * registries (debootstrap + a small app, made an OCI layout by umoci) and cached in
 * .cache/demo-image; the bundled Grype report sits beside the script.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { REPO_ROOT } from "./embedded-stack.js";

export interface DemoImage {
  readonly ociLayoutDir: string;
  readonly scanFile: string;
  readonly expectedVerdictsFile: string;
}

export const DEMO_DIR = join(REPO_ROOT, "deploy", "local", "demo-image");
export const DEMO_CACHE = join(REPO_ROOT, ".cache", "demo-image");

/**
 * Builds the demo image, or reuses the cached build, streaming the script's progress to log.
 * @throws Error when the build script fails.
 */
export async function buildDemoImage(log: (line: string) => void): Promise<DemoImage> {
  const child = spawn("bash", [join(DEMO_DIR, "build.sh")], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const forward = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") log(line);
  };
  child.stdout.on("data", forward);
  child.stderr.on("data", forward);
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`the demo image build failed (exit ${code}); see the lines above`);
  return {
    ociLayoutDir: `${join(DEMO_CACHE, "oci")}:demo`,
    scanFile: join(DEMO_DIR, "scan.grype.json"),
    expectedVerdictsFile: join(DEMO_DIR, "expected-verdicts.json"),
  };
}
