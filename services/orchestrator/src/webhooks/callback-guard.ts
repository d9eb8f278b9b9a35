/**
 * The SSRF guard for callback URLs, used at submit and again before every delivery attempt
 * (DNS answers change). The URL must be https (http only to a loopback host when
 * WEBHOOK_ALLOW_LOOPBACK_HTTP is on); its host is resolved once, every address it resolves to
 * must pass the address policy, and the connector is then handed the checked address to
 * connect to, so no second lookup can return another one (DNS rebinding).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { InvalidFieldError } from "@vexxy/platform";
import { judgeAddress } from "./address-policy.js";

/** One resolved address of a host. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has. Injected so tests never query DNS for real. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Where a delivery goes: the URL as given and the checked address to connect to. */
export interface CheckedTarget {
  readonly url: URL;
  readonly address: string;
  readonly family: 4 | 6;
}

export interface CallbackPolicy {
  /** The embedded default: http and loopback addresses are allowed (a receiver on the same host). */
  readonly allowLoopbackHttp: boolean;
}

/** The callback URL is refused (InvalidArgument naming callback_url at submit; a failed attempt at delivery). */
export class CallbackRefusedError extends InvalidFieldError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("callback_url", message, options);
  }
}

/** The operating system's resolver (getaddrinfo), every address, in its order. */
export const systemResolver: HostResolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const LOOPBACK_NAMES = new Set(["localhost", "localhost."]);

export class CallbackGuard {
  constructor(
    private readonly policy: CallbackPolicy,
    private readonly resolve: HostResolver = systemResolver,
  ) {}

  /**
   * Checks the URL and resolves its host.
   * @throws CallbackRefusedError when the scheme is not allowed, the host does not resolve, or
   *   any address it resolves to is not a public unicast address.
   */
  async check(raw: string): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch (cause) {
      throw new CallbackRefusedError("callback_url is not an absolute URL", { cause });
    }
    // URL keeps IPv6 literals in brackets; the resolver and the policy want the bare address.
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const loopbackName = LOOPBACK_NAMES.has(host.toLowerCase());
    if (url.protocol === "http:") {
      if (!this.policy.allowLoopbackHttp) throw new CallbackRefusedError("callback_url must be https");
      const literalLoopback = isIP(host) !== 0 && judgeAddress(host, true).range === "loopback";
      if (!loopbackName && !literalLoopback) throw new CallbackRefusedError("callback_url must be https (http is allowed only to a loopback host)");
    } else if (url.protocol !== "https:") {
      throw new CallbackRefusedError(`callback_url must be https (got ${url.protocol.replace(/:$/, "")})`);
    }
    if (url.username !== "" || url.password !== "") throw new CallbackRefusedError("callback_url must not carry credentials");
    let addresses: readonly ResolvedAddress[];
    if (isIP(host) !== 0) {
      addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolve(host);
      } catch (cause) {
        throw new CallbackRefusedError(`callback_url host ${host} does not resolve`, { cause });
      }
    }
    if (addresses.length === 0) throw new CallbackRefusedError(`callback_url host ${host} does not resolve`);
    // Every address must pass: a name that also resolves to an internal address is refused
    // outright rather than hoping the connection picks the public one.
    for (const { address } of addresses) {
      const verdict = judgeAddress(address, this.policy.allowLoopbackHttp);
      if (!verdict.allowed) {
        throw new CallbackRefusedError(`callback_url host ${host} resolves to ${address}, a ${verdict.range} address; only public addresses are allowed`);
      }
    }
    const first = addresses[0]!;
    return { url, address: first.address, family: first.family };
  }
}
