/**
 * Which resolved addresses a webhook may connect to (SSRF). Only globally routable unicast
 * addresses pass; every other range ipaddr.js knows (private, loopback, link-local, CGNAT,
 * multicast, unspecified, broadcast, reserved, documentation, unique-local, 6to4/Teredo/NAT64
 * which embed an IPv4 address) is refused. An IPv4-mapped IPv6 address is judged as the IPv4
 * address it carries. Loopback passes only when the embedded default allows it.
 */
import ipaddr from "ipaddr.js";

/** What the policy said about one address. */
export interface AddressVerdict {
  readonly allowed: boolean;
  /** ipaddr.js's range name ("unicast", "private", "loopback", ...), or "invalid". */
  readonly range: string;
}

/** Judges one IP address (text). Never throws: an unparsable address is refused as "invalid". */
export function judgeAddress(address: string, allowLoopback: boolean): AddressVerdict {
  if (!ipaddr.isValid(address)) return { allowed: false, range: "invalid" };
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  if (range === "unicast") return { allowed: true, range };
  if (range === "loopback" && allowLoopback) return { allowed: true, range };
  return { allowed: false, range };
}
