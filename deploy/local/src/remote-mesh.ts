/**
 * How the job verbs (`submit`, `watch`, `results`, `vex`, `cancel`, `list`) reach a running mesh:
 * the orchestrator's URL from `--endpoint` or `VEXXY_ENDPOINT`, the caller's bearer token from
 * `--token` or `VEXXY_TOKEN` (`vexxy up` prints both), sent as `authorization: Bearer ...` on
 * every call.
 */
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AnalysisService } from "@vexxy/proto";

/** The options every job verb takes. */
export interface RemoteOptions {
  readonly endpoint?: string;
  readonly token?: string;
}

/** A usage mistake of a job verb (exit status 1), naming the option. */
export class RemoteUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RemoteUsageError";
  }
}

/** The endpoint and token to use, from the options or the environment. */
export interface Remote {
  readonly endpoint: string;
  readonly token: string | undefined;
}

/**
 * Resolves the endpoint and token.
 * @throws RemoteUsageError when no endpoint is given or it is not an http(s) URL.
 */
export function resolveRemote(opts: RemoteOptions, env: NodeJS.ProcessEnv = process.env): Remote {
  const endpoint = opts.endpoint ?? env["VEXXY_ENDPOINT"];
  if (endpoint === undefined || endpoint === "") {
    throw new RemoteUsageError("--endpoint: no orchestrator URL (give --endpoint URL or set VEXXY_ENDPOINT; `vexxy up` prints both)");
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (err) {
    throw new RemoteUsageError(`--endpoint: not a URL: ${endpoint} (${err instanceof Error ? err.message : String(err)})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RemoteUsageError(`--endpoint: must be http:// or https://, got ${url.protocol}`);
  const token = opts.token ?? env["VEXXY_TOKEN"];
  return { endpoint, token: token === undefined || token === "" ? undefined : token };
}

/** An orchestrator client over gRPC that sends the bearer token, when there is one. */
export function remoteOrchestrator(remote: Remote): Client<typeof AnalysisService> {
  const interceptors: Interceptor[] = [];
  const token = remote.token;
  if (token !== undefined) {
    interceptors.push((next) => async (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return await next(req);
    });
  }
  return createClient(AnalysisService, createGrpcTransport({ baseUrl: remote.endpoint, interceptors }));
}
