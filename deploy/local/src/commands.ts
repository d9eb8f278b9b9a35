/** The CLI verbs, each returning the process exit code. */
import { join, resolve } from "node:path";
import { cp, stat } from "node:fs/promises";
import { renderVerdictTable } from "./verdict-table.js";
import { analyze, AnalysisEndedError } from "./analyze.js";
import { resolveImageInput } from "./image-input.js";
import { startEmbeddedStack, REPO_ROOT, type EmbeddedStack } from "./embedded-stack.js";
import { createAnalysisProgress } from "./progress-bar.js";
import { parseVexFormats } from "./job-commands.js";
import { buildDemoImage } from "./demo-image.js";

export interface AnalyzeCommandOptions {
  readonly image: string;
  readonly scan: string;
  readonly sbom?: string;
  readonly port: readonly number[];
  readonly testScript?: string;
  readonly timeout?: number;
  readonly out: string;
  readonly endpoint?: string;
  /** Bearer token for --endpoint; the embedded stack's dev token otherwise. */
  readonly token?: string;
  readonly imageName?: string;
  readonly tagIdentifiers?: boolean;
  /** openvex (default), cyclonedx or both. */
  readonly format?: string;
}

/** The repository the demo image is named by (a documentation host; push it there and scan it to match). */
export const DEMO_IMAGE_NAME = "registry.example.com/vexxy/demo:demo";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** `vexxy analyze`: one analysis, on --endpoint or on an embedded stack started for the run. */
export async function runAnalyzeCommand(opts: AnalyzeCommandOptions): Promise<number> {
  // Refuse missing input files before anything starts, naming the option.
  for (const [option, file] of [
    ["--scan", opts.scan],
    ["--sbom", opts.sbom],
    ["--test-script", opts.testScript],
  ] as const) {
    if (
      file !== undefined &&
      !(await stat(file).then(
        (st) => st.isFile(),
        () => false,
      ))
    ) {
      console.error(`vexxy: ${option}: no such file: ${file}`);
      return 1;
    }
  }
  const image = await resolveImageInput(opts.image);
  const imageName = opts.imageName ?? image.imageName;
  if (imageName === undefined && !image.imageRef.startsWith("docker://")) {
    console.error(
      `vexxy: IMAGE: ${opts.image} carries no repository name (no RepoTags, no full org.opencontainers.image.ref.name): give --image-name REPOSITORY[:TAG], the name scanners will see`,
    );
    return 1;
  }
  log(`image ${image.imageRef}\n  digest ${image.imageDigest}${imageName !== undefined ? `\n  name ${imageName}` : ""}`);
  let stack: EmbeddedStack | undefined;
  const stopStack = async (): Promise<void> => {
    if (stack !== undefined) {
      log("stopping the embedded stack");
      await stack.stop();
      stack = undefined;
    }
  };
  const onSignal = (): void => {
    void stopStack().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    let endpoint = opts.endpoint;
    let token = opts.token;
    if (endpoint === undefined) {
      stack = await startEmbeddedStack({ onProgress: log });
      endpoint = stack.urls.orchestrator;
      token = stack.devToken;
    }
    if (token === undefined || token === "") {
      console.error("vexxy: --token: the orchestrator needs a bearer token (give --token or set VEXXY_TOKEN; `vexxy up` prints a dev token)");
      return 1;
    }
    const progress = createAnalysisProgress();
    const started = Date.now();
    try {
      const outcome = await analyze({
        endpoint,
        token,
        image,
        scanFile: opts.scan,
        ...(opts.sbom !== undefined ? { sbomFile: opts.sbom } : {}),
        ports: opts.port,
        ...(opts.testScript !== undefined ? { testScriptFile: opts.testScript } : {}),
        ...(opts.timeout !== undefined ? { timeoutSeconds: opts.timeout } : {}),
        outDir: resolve(opts.out),
        ...(imageName !== undefined ? { imageName } : {}),
        ...(opts.tagIdentifiers === true ? { tagIdentifiers: true } : {}),
        formats: parseVexFormats(opts.format),
        onProgress: (phase, percent, status) => progress.update(phase, percent, status),
      });
      progress.stop();
      const p = outcome.results.executionProfile;
      console.log(`\nanalysis ${outcome.jobId} COMPLETE in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (p !== undefined) {
        console.log(
          `trace: ${p.traceComplete ? "complete" : `INCOMPLETE (${p.lossReasons.join(", ")})`}, workload ${p.workloadOutcome}, ` +
            `${p.filesAccessed} files, ${p.executablesRun} executables, ${p.sharedLibrariesLoaded} shared libraries, ${p.syscalls} syscalls traced, ` +
            `${p.durationSeconds.toFixed(1)} s run, package coverage ${p.codeCoveragePercent.toFixed(1)}%`,
        );
      }
      console.log(`\n${renderVerdictTable(outcome.results.reachabilityResults)}\n`);
      const f = outcome.files;
      if (f.bundle !== undefined) console.log(`signed VEX (Sigstore bundle, DSSE over in-toto): ${f.bundle}`);
      if (f.openvex !== undefined) console.log(`OpenVEX document:                                  ${f.openvex}`);
      if (f.cyclonedxBundle !== undefined) console.log(`signed CycloneDX VEX (Sigstore bundle):           ${f.cyclonedxBundle}`);
      if (f.cyclonedx !== undefined) console.log(`CycloneDX 1.6 VEX:                                 ${f.cyclonedx}`);
      if (f.runtimeSbom !== undefined) console.log(`runtime SBOM (components seen in use):            ${f.runtimeSbom}`);
      console.log(`verdicts with evidence:                            ${outcome.files.results}`);
      console.log(`public key:                                        ${outcome.files.publicKey}`);
      return 0;
    } catch (err) {
      progress.stop();
      // The stack's own dir is removed when it stops: keep its logs next to --out first.
      if (stack !== undefined) {
        const kept = join(resolve(opts.out), "logs");
        const copied = await cp(stack.logDir, kept, { recursive: true }).then(
          () => true,
          () => false,
        );
        if (err instanceof AnalysisEndedError) console.error(`\nvexxy: ${err.message}`);
        if (copied) console.error(`service logs: ${kept}`);
      } else if (err instanceof AnalysisEndedError) {
        console.error(`\nvexxy: ${err.message}`);
      }
      if (err instanceof AnalysisEndedError) return 2;
      throw err;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopStack();
  }
}

/** `vexxy demo`: build or reuse the demo image, then analyse it with its bundled scan. */
export async function runDemoCommand(opts: { out: string }): Promise<number> {
  const demo = await buildDemoImage(log);
  return await runAnalyzeCommand({ image: demo.ociLayoutDir, scan: demo.scanFile, port: [], out: opts.out, imageName: DEMO_IMAGE_NAME });
}

/** `vexxy up`: start the embedded mesh and keep it until SIGINT/SIGTERM. */
export async function runUpCommand(opts: { stateDir?: string }): Promise<number> {
  const stack = await startEmbeddedStack({ ...(opts.stateDir !== undefined ? { stateDir: resolve(opts.stateDir) } : {}), onProgress: log });
  for (const [name, url] of Object.entries(stack.urls)) console.log(`${name.padEnd(13)} ${url}`);
  console.log(`dev token (organization dev, tier ultimate; also in ${join(stack.stateDir, "dev-token")}):\n${stack.devToken}`);
  console.log(
    `state ${stack.stateDir}\nlogs  ${join(stack.logDir)}\nrepo  ${REPO_ROOT}\nanalyse with: pnpm vexxy analyze IMAGE --scan REPORT --out DIR --endpoint ${stack.urls.orchestrator} --token "$(cat ${join(stack.stateDir, "dev-token")})"`,
  );
  await new Promise<void>((done) => {
    process.once("SIGINT", () => done());
    process.once("SIGTERM", () => done());
  });
  await stack.stop();
  return 0;
}
