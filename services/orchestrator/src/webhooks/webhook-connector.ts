/**
 * Sending one webhook request to an already checked address. The default connector uses
 * node:http/https with `lookup` answering the checked address, so the connection goes exactly
 * there while the Host header, TLS SNI and certificate check still use the URL's host name.
 * Redirects are not followed (a 3xx is a failed attempt): a redirect could point anywhere.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { CheckedTarget } from "./callback-guard.js";

/** What one POST returned. */
export interface ConnectorResponse {
  readonly statusCode: number;
}

/** Posts body with headers to the target; rejects on a connection error or timeout. */
export type WebhookConnector = (
  target: CheckedTarget,
  headers: Readonly<Record<string, string>>,
  body: string,
  timeoutMs: number,
) => Promise<ConnectorResponse>;

/** The real connector (see the module comment). */
export const httpConnector: WebhookConnector = (target, headers, body, timeoutMs) =>
  new Promise<ConnectorResponse>((resolve, reject) => {
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all === true) {
        (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
          { address: target.address, family: target.family },
        ]);
      } else {
        callback(null, target.address, target.family);
      }
    };
    const send = target.url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      target.url,
      {
        method: "POST",
        lookup: pinned,
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body).toString(), "user-agent": "vexxy-webhooks/1" },
        timeout: timeoutMs,
      },
      (res) => {
        // The receiver's body is not needed; drain it so the socket is released.
        res.resume();
        res.on("end", () => resolve({ statusCode: res.statusCode ?? 0 }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
