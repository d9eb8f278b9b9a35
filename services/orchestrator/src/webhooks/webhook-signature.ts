/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the receiver gets `webhook-id`,
 * `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` computed
 * over "id.timestamp.body" with the secret's bytes (the base64 after `whsec_`).
 */
import { createHmac } from "node:crypto";

const SECRET_PREFIX = "whsec_";
/** Fewer key bytes than this is refused (the spec recommends 24 to 64). */
const MIN_SECRET_BYTES = 24;

/** WEBHOOK_SECRET is not `whsec_` followed by base64 of at least 24 bytes. */
export class WebhookSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookSecretError";
  }
}

/**
 * The key bytes of a `whsec_<base64>` secret.
 * @throws WebhookSecretError naming WEBHOOK_SECRET when it is malformed or too short.
 */
export function parseWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new WebhookSecretError(`WEBHOOK_SECRET must start with "${SECRET_PREFIX}"`);
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new WebhookSecretError("WEBHOOK_SECRET: the part after whsec_ must be base64");
  const key = Buffer.from(encoded, "base64");
  if (key.length < MIN_SECRET_BYTES) throw new WebhookSecretError(`WEBHOOK_SECRET must hold at least ${MIN_SECRET_BYTES} bytes (has ${key.length})`);
  return key;
}

/** The three Standard Webhooks headers for one delivery attempt. */
export interface WebhookHeaders {
  readonly "webhook-id": string;
  readonly "webhook-timestamp": string;
  readonly "webhook-signature": string;
}

/** Signs body for message id at `at` with the key from parseWebhookSecret. */
export function signWebhook(key: Buffer, id: string, at: Date, body: string): WebhookHeaders {
  const timestamp = Math.floor(at.getTime() / 1000).toString();
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest("base64");
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${mac}` };
}
