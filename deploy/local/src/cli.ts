/**
 * The `vexxy` command line (run from the repo root as `pnpm vexxy ...`):
 *   vexxy demo [--out DIR]            build (or reuse) the demo image and analyse it end to end
 *   vexxy analyze IMAGE --scan REPORT [--sbom FILE] [--port N]... [--test-script FILE]
 *                 [--timeout S] --out DIR [--endpoint URL]
 *   vexxy up [--state-dir DIR]        start the embedded mesh and keep it running
 *   vexxy verify BUNDLE --key PEM [--digest sha256:...] [--json] [--endpoint URL]
 *                                     check a signed VEX (exit 0 verified, 1 not verified, 2 usage)
 *   vexxy keys rotate|list --state-dir DIR   the vex service's signing keys
 *   vexxy submit|watch|results|vex|cancel|list ...   jobs on a running mesh (--endpoint/VEXXY_ENDPOINT,
 *                                     --token/VEXXY_TOKEN; --json on each; see job-commands.ts)
 * commander parses the arguments (a maintained parser with help, validation and sub-commands),
 * cli-progress draws the progress bar.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { Code, ConnectError } from "@connectrpc/connect";
import { runAnalyzeCommand, runDemoCommand, runUpCommand } from "./commands.js";
import { runKeysListCommand, runKeysRotateCommand } from "./keys-command.js";
import { runVerifyCommand } from "./verify-command.js";
import { runCancelCommand, runListCommand, runResultsCommand, runSubmitCommand, runVexCommand, runWatchCommand } from "./job-commands.js";

function positiveInt(name: string): (value: string, previous?: number[]) => number[] {
  return (value, previous = []) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`${name} must be an integer 1..65535`);
    return [...previous, n];
  };
}

function timeoutSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 60 || n > 900) throw new InvalidArgumentError("--timeout must be an integer number of seconds, 60..900");
  return n;
}

const program = new Command()
  .name("vexxy")
  .description("VEXxy runtime-reachability mesh: run an image in a traced sandbox and get a signed OpenVEX")
  .option("--debug", "print the stack of an unexpected error (also with DEBUG set)")
  .showHelpAfterError();

program
  .command("analyze")
  .description("analyse one image (OCI layout dir, OCI archive or docker archive) with its Grype JSON scan")
  .argument("<image>", "OCI layout directory (optionally DIR:tag), OCI archive, docker archive, or a skopeo transport")
  .requiredOption("--scan <report>", "vulnerability report (Grype JSON)")
  .option("--sbom <file>", "SBOM (CycloneDX or SPDX JSON)")
  .option("--port <n>", "a port the workload listens on (repeatable)", positiveInt("--port"), [])
  .option("--test-script <file>", "shell script run inside the sandbox to exercise the workload")
  .option("--timeout <seconds>", "run timeout, 60..900 (default 300)", timeoutSeconds)
  .requiredOption("--out <dir>", "where openvex.json, openvex.sigstore.json, results.json and vex-signing.pub.pem go")
  .addOption(new Option("--endpoint <url>", "a running mesh's orchestrator (e.g. from `vexxy up`); default: start the embedded stack for this run"))
  .addOption(new Option("--token <jwt>", "bearer token for --endpoint (`vexxy up` prints a dev token; default: VEXXY_TOKEN)").env("VEXXY_TOKEN"))
  .option(
    "--image-name <repository>",
    "REPOSITORY[:TAG] the image is pushed as (names the VEX product so scanners match it); default: the archive's RepoTags or the layout's full ref.name",
  )
  .option("--tag-identifiers", "also identify the VEX product by tag, so Grype scanning the local layout matches it (a tag is not pinned to the digest)")
  .addOption(
    new Option("--format <format>", "VEX formats: openvex (openvex.json), cyclonedx (cyclonedx-vex.json + sbom.runtime.cdx.json) or both")
      .choices(["openvex", "cyclonedx", "both"])
      .default("openvex"),
  )
  .action(
    async (
      image: string,
      opts: {
        scan: string;
        sbom?: string;
        port: number[];
        testScript?: string;
        timeout?: number;
        out: string;
        endpoint?: string;
        token?: string;
        imageName?: string;
        tagIdentifiers?: boolean;
        format?: string;
      },
    ) => {
      process.exitCode = await runAnalyzeCommand({ image, ...opts });
    },
  );

program
  .command("demo")
  .description("build (or reuse) the bundled demo image and analyse it end to end on the embedded stack")
  .option("--out <dir>", "output directory", "out/demo")
  .action(async (opts: { out: string }) => {
    process.exitCode = await runDemoCommand(opts);
  });

program
  .command("up")
  .description("start the embedded mesh (Postgres, NATS JetStream, file store, five services) until interrupted")
  .option("--state-dir <dir>", "keep state here (default: a temp dir removed on exit)")
  .action(async (opts: { stateDir?: string }) => {
    process.exitCode = await runUpCommand(opts);
  });

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
// Usage mistakes of verify and keys exit 2 (1 means "not verified"); help exits 0.
const usageExit2 = (err: { exitCode: number }): never => process.exit(err.exitCode === 0 ? 0 : 2);

program
  .command("verify")
  .description("verify a signed VEX (Sigstore bundle): signature, payload and predicate type, and the image digest; offline unless --endpoint")
  .argument("<bundle>", "the Sigstore bundle, e.g. openvex.sigstore.json")
  .option("--key <pem>", "public key that may have signed it, e.g. vex-signing.pub.pem (repeatable: keys retired by rotation)", collect, [])
  .option("--digest <sha256:hex>", "the image digest the VEX must be about (its in-toto subject)")
  .option("--json", "print the result as JSON on stdout")
  .option("--endpoint <url>", "ask this vex service's VerifyVex instead (its own keys unless --key is given)")
  .option(
    "--token-file <file>",
    "with --endpoint: the mesh's internal token (default: $INTERNAL_AUTH_TOKEN; `vexxy up --state-dir S` keeps it in S/auth/internal-auth-token)",
  )
  .addHelpText(
    "after",
    "\nExit status: 0 verified; 1 not verified (reason printed: malformed_bundle, unknown_key, signature_invalid,\npayload_type_mismatch, predicate_type_mismatch, subject_digest_mismatch); 2 usage or unreadable input.",
  )
  .exitOverride(usageExit2)
  .action(async (bundle: string, opts: { key: string[]; digest?: string; json?: boolean; endpoint?: string; tokenFile?: string }) => {
    process.exitCode = await runVerifyCommand({ bundle, ...opts });
  });

const keys = program.command("keys").description("the vex service's signing keys in its VEX_STATE_DIR (for `vexxy up --state-dir S`: S/vex)");
keys
  .command("rotate")
  .description("make a new active signing key; earlier keys keep verifying; the vex service signs with it from its next start")
  .requiredOption("--state-dir <dir>", "the vex service's VEX_STATE_DIR")
  .option("--json", "print the result as JSON")
  .exitOverride(usageExit2)
  .action(async (opts: { stateDir: string; json?: boolean }) => {
    process.exitCode = await runKeysRotateCommand(opts);
  });
keys
  .command("list")
  .description("list the key ids that verify, the active one first")
  .requiredOption("--state-dir <dir>", "the vex service's VEX_STATE_DIR")
  .option("--json", "print the keys (with their PEM) as JSON")
  .exitOverride(usageExit2)
  .action(async (opts: { stateDir: string; json?: boolean }) => {
    process.exitCode = await runKeysListCommand(opts);
  });

// The job verbs, against a running mesh. Each takes --endpoint, --token and --json.
function remote(cmd: Command): Command {
  return cmd
    .addOption(new Option("--endpoint <url>", "the orchestrator (`vexxy up` prints it)").env("VEXXY_ENDPOINT"))
    .addOption(new Option("--token <jwt>", "bearer token (`vexxy up` prints a dev token)").env("VEXXY_TOKEN"))
    .option("--json", "machine-readable output on stdout");
}
const JOB_EXIT_HELP =
  "\nExit status: 0 done; 1 usage, missing file, or the mesh refused the request (its code printed); 2 the job ended FAILED or CANCELLED (watch).";

remote(
  program
    .command("submit")
    .description("queue an analysis of IMAGE with its scan and print its job id (follow it with `vexxy watch JOB`)")
    .argument("<image>", "OCI layout directory (optionally DIR:tag), OCI archive, docker archive, or a skopeo transport")
    .requiredOption("--scan <report>", "vulnerability report (Grype or Trivy JSON)")
    .option("--sbom <file>", "SBOM (CycloneDX or SPDX JSON)")
    .option("--port <n>", "a port the workload listens on (repeatable)", positiveInt("--port"), [])
    .option("--test-script <file>", "shell script run inside the sandbox to exercise the workload")
    .option("--timeout <seconds>", "run timeout, 60..900 (default 300)", timeoutSeconds)
    .option("--image-name <repository>", "REPOSITORY[:TAG] the image is pushed as (names the VEX product)")
    .option("--tag-identifiers", "also identify the VEX product by tag (not pinned to the digest)")
    .addOption(new Option("--format <format>", "VEX formats to produce").choices(["openvex", "cyclonedx", "both"]).default("openvex"))
    .option("--callback-url <url>", "https URL to POST a signed summary to when the job ends")
    .option("--idempotency-key <key>", "resubmitting with the same key and body returns the first job"),
)
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (image: string, opts: Omit<Parameters<typeof runSubmitCommand>[0], "image">) => {
    process.exitCode = await runSubmitCommand({ image, ...opts });
  });

remote(program.command("watch").description("show a job's progress live until it ends").argument("<job>", "job id"))
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (jobId: string, opts: { endpoint?: string; token?: string; json?: boolean }) => {
    process.exitCode = await runWatchCommand({ jobId, ...opts });
  });

remote(program.command("results").description("a finished job's verdicts as a table (every page)").argument("<job>", "job id"))
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (jobId: string, opts: { endpoint?: string; token?: string; json?: boolean }) => {
    process.exitCode = await runResultsCommand({ jobId, ...opts });
  });

remote(
  program
    .command("vex")
    .description("write one of a finished job's documents to a file")
    .argument("<job>", "job id")
    .addOption(
      new Option("--kind <kind>", "the signed OpenVEX bundle, the plain OpenVEX, the CycloneDX VEX, its bundle, or the runtime SBOM")
        .choices(["bundle", "openvex", "cyclonedx", "cyclonedx-bundle", "sbom"])
        .default("bundle"),
    )
    .requiredOption("--out <file>", "where to write it ('-' for stdout)"),
)
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (jobId: string, opts: { endpoint?: string; token?: string; json?: boolean; kind: string; out: string }) => {
    process.exitCode = await runVexCommand({ jobId, ...opts });
  });

remote(program.command("cancel").description("cancel a queued or running job").argument("<job>", "job id").option("--reason <text>", "why (kept with the job)"))
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (jobId: string, opts: { endpoint?: string; token?: string; json?: boolean; reason?: string }) => {
    process.exitCode = await runCancelCommand({ jobId, ...opts });
  });

remote(
  program
    .command("list")
    .description("your organization's jobs, newest first")
    .addOption(new Option("--status <status>", "only jobs in this status").choices(["queued", "running", "analyzing", "complete", "failed", "cancelled"]))
    .option("--image-digest <sha256:hex>", "only jobs of this image digest")
    .option("--image-ref <ref>", "only jobs of this image reference")
    .option("--since <iso8601>", "created at or after")
    .option("--until <iso8601>", "created before")
    .option("--limit <n>", "jobs per page, 1..100 (default 20)", (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError("--limit must be an integer 1..100");
      return n;
    })
    .option("--page-token <token>", "the next page, as printed by the previous list"),
)
  .addHelpText("after", JOB_EXIT_HELP)
  .action(async (opts: Parameters<typeof runListCommand>[0]) => {
    process.exitCode = await runListCommand(opts);
  });

const debug = (): boolean => process.argv.includes("--debug") || (process.env["DEBUG"] ?? "") !== "";

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConnectError) {
    console.error(`vexxy: the mesh refused the request (${Code[err.code]}): ${err.rawMessage}`);
  } else {
    console.error(`vexxy: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (debug() && err instanceof Error && err.stack !== undefined) console.error(err.stack);
  process.exitCode = 1;
});
