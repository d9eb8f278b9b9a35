/**
 * `vexxy verify BUNDLE --key PEM [--key PEM]... [--digest sha256:...] [--json] [--endpoint URL]`:
 * checks a signed VEX bundle offline with the vex service's own verification code (no mesh
 * needed), or, with --endpoint, asks a running vex service's VerifyVex (its active and retired
 * keys, or the --key ones; the mesh's internal token from --token-file or INTERNAL_AUTH_TOKEN,
 * for `vexxy up --state-dir S` in S/auth/internal-auth-token). Exit status: 0 verified, 1 not verified (the reason code and why
 * printed), 2 usage or unreadable input (a missing or unreadable file, a PEM that is no key, a
 * malformed --digest, an unreachable endpoint).
 */
import { createPublicKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { VexService } from "@vexxy/proto";
import { isImageDigest, keyHint, verifyVex, type TrustedKey } from "@vexxy/vex/lib";

/** Exit status of `vexxy verify`. */
export const VERIFY_EXIT = { verified: 0, notVerified: 1, usage: 2 } as const;

/** Options of `vexxy verify` as commander parses them. */
export interface VerifyCommandOptions {
  readonly bundle: string;
  readonly key: readonly string[];
  readonly digest?: string;
  readonly json?: boolean;
  readonly endpoint?: string;
  /** File holding the mesh's internal token (INTERNAL_AUTH_TOKEN) the vex service requires; default: $INTERNAL_AUTH_TOKEN. */
  readonly tokenFile?: string;
}

/** What `vexxy verify --json` prints. */
export interface VerifyReport {
  readonly verified: boolean;
  /** Empty when verified; else malformed_bundle, unknown_key, signature_invalid, payload_type_mismatch, predicate_type_mismatch or subject_digest_mismatch. */
  readonly reason: string;
  readonly message: string;
  readonly keyId: string;
  readonly predicateType: string;
  readonly subjectDigests: readonly string[];
  readonly bundle: string;
  readonly via: "offline" | "endpoint";
}

class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

async function readInput(option: string, path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new UsageError(`${option}: cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
}

async function readKeys(paths: readonly string[]): Promise<{ pems: string[]; trusted: TrustedKey[] }> {
  const pems: string[] = [];
  const trusted: TrustedKey[] = [];
  for (const path of paths) {
    const pem = await readInput("--key", path);
    try {
      // A private key file is accepted too: its public half is what verifies.
      const publicKey = createPublicKey(pem);
      pems.push(publicKey.export({ type: "spki", format: "pem" }).toString());
      trusted.push({ keyId: keyHint(publicKey), publicKey });
    } catch (cause) {
      throw new UsageError(`--key: ${path} holds no PEM public key`, { cause });
    }
  }
  return { pems, trusted };
}

async function verifyAt(
  endpoint: string,
  token: string | undefined,
  bundleJson: string,
  pems: readonly string[],
  digest: string | undefined,
): Promise<Omit<VerifyReport, "bundle">> {
  const bearer: Interceptor = (next) => async (req) => {
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    return await next(req);
  };
  const client = createClient(VexService, createGrpcTransport({ baseUrl: endpoint, interceptors: [bearer] }));
  let res: Awaited<ReturnType<typeof client.verifyVex>>;
  try {
    res = await client.verifyVex({ bundleJson, expectedDigest: digest ?? "", publicKeyPems: [...pems] });
  } catch (error) {
    if (error instanceof ConnectError) {
      throw new UsageError(
        `--endpoint ${endpoint}: ${error.code === Code.InvalidArgument ? "refused the request" : `failed (${Code[error.code]})`}: ${error.rawMessage}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  return {
    verified: res.verified,
    reason: res.reason,
    message: res.message,
    keyId: res.keyId,
    predicateType: res.predicateType,
    subjectDigests: res.subjectDigests,
    via: "endpoint",
  };
}

async function internalToken(tokenFile: string | undefined): Promise<string | undefined> {
  if (tokenFile !== undefined) return (await readInput("--token-file", tokenFile)).trim();
  const fromEnv = process.env["INTERNAL_AUTH_TOKEN"];
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined;
}

function verifyOffline(bundleJson: string, trusted: readonly TrustedKey[], digest: string | undefined): Omit<VerifyReport, "bundle"> {
  const result = verifyVex(bundleJson, trusted, digest !== undefined ? { expectedDigest: digest } : {});
  if (!result.verified) {
    return {
      verified: false,
      reason: result.reason,
      message: result.message,
      keyId: result.keyId ?? "",
      predicateType: "",
      subjectDigests: [],
      via: "offline",
    };
  }
  return {
    verified: true,
    reason: "",
    message: result.message,
    keyId: result.keyId,
    predicateType: result.predicateType,
    subjectDigests: result.subjectDigests,
    via: "offline",
  };
}

/** `vexxy verify`: returns the exit status (see VERIFY_EXIT); prints the outcome (JSON on stdout with --json). Never throws for a user's input. */
export async function runVerifyCommand(opts: VerifyCommandOptions): Promise<number> {
  let report: VerifyReport;
  try {
    if (opts.digest !== undefined && !isImageDigest(opts.digest)) {
      throw new UsageError(`--digest must be sha256:<64 lowercase hex> (got ${JSON.stringify(opts.digest.slice(0, 80))})`);
    }
    if (opts.key.length === 0 && opts.endpoint === undefined) {
      throw new UsageError("--key PEM is required (the public key that signed the bundle, e.g. vex-signing.pub.pem), unless --endpoint names a vex service");
    }
    const bundleJson = await readInput("BUNDLE", opts.bundle);
    const keys = await readKeys(opts.key);
    const outcome =
      opts.endpoint !== undefined
        ? await verifyAt(opts.endpoint, await internalToken(opts.tokenFile), bundleJson, keys.pems, opts.digest)
        : verifyOffline(bundleJson, keys.trusted, opts.digest);
    report = { ...outcome, bundle: opts.bundle };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (opts.json === true) console.log(JSON.stringify({ verified: false, reason: "usage", message: error.message, bundle: opts.bundle }));
    console.error(`vexxy verify: ${error.message}`);
    return VERIFY_EXIT.usage;
  }
  if (opts.json === true) {
    console.log(JSON.stringify(report, null, 2));
  } else if (report.verified) {
    console.log(`${opts.bundle}: ${report.message}`);
  } else {
    console.error(`${opts.bundle}: NOT VERIFIED (${report.reason}): ${report.message}`);
  }
  return report.verified ? VERIFY_EXIT.verified : VERIFY_EXIT.notVerified;
}
