/**
 * Direct access to the mesh's JetStream stream, to replay an event the way an at-least-once
 * broker may deliver it again (same payload, a fresh Nats-Msg-Id so de-duplication does not
 * swallow it).
 */
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { STREAM_NAME } from "@vexxy/events";

/** Re-publishes the last message stored on subject with a new msg id; returns its payload bytes. */
export async function replayLast(natsUrl: string, subject: string, streamName = STREAM_NAME): Promise<Uint8Array> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(streamName, { last_by_subj: subject });
    if (stored === null) throw new Error(`no message stored on ${subject}`);
    const h = natsHeaders();
    for (const [k, v] of stored.header ?? []) if (k !== "Nats-Msg-Id") for (const value of v) h.append(k, value);
    await jetstream(nc).publish(subject, stored.data, { msgID: `replay-${Date.now()}-${Math.random()}`, headers: h });
    return stored.data;
  } finally {
    await nc.close();
  }
}
