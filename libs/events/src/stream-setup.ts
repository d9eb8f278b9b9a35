/**
 * The mesh's one JetStream stream, created or brought to its configuration idempotently by
 * every service at start-up.
 *
 * One stream per nats-server: the stream holds the fixed subjects `vexxy.>`, and JetStream
 * refuses two streams with overlapping subjects on one server. So a stream name other than the
 * one already holding `vexxy.>` fails with EventStreamError; tests that want a random stream
 * name give each test (file) its own nats-server (`startNatsServer()` from @vexxy/testkit) rather
 * than a configurable subject prefix, so the subjects stay the constants every service imports.
 */
import { nanos } from "@nats-io/transport-node";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { Logger } from "@vexxy/platform";
import { STREAM_SUBJECTS } from "./subjects.js";
import { EventStreamError } from "./errors.js";

/** De-duplication window of Nats-Msg-Id: a re-publish within it is dropped by the server. */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
/** Events older than this are removed from the stream. */
export const MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

// JetStream's error code for "subjects overlap with an existing stream".
const SUBJECTS_OVERLAP = 10065;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw err;
  }
}

function sameSubjects(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((s) => b.includes(s));
}

/**
 * Creates stream `name` (subjects `vexxy.>`, file storage, limits retention, duplicate window
 * 2 min, max age 7 days), or updates an existing one whose subjects, duplicate window or max age
 * differ. Safe when several services run it at the same moment.
 * @throws EventStreamError when another stream already holds the subjects, when the existing
 *   stream uses memory storage (not changeable), or when JetStream rejects the configuration.
 */
export async function ensureStream(jsm: JetStreamManager, name: string, logger: Logger): Promise<StreamInfo> {
  const subjects = [...STREAM_SUBJECTS];
  const wanted: Partial<StreamConfig> & { name: string } = {
    name,
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(MAX_AGE_MS),
  };
  let info = await streamInfo(jsm, name);
  if (info === undefined) {
    try {
      info = await jsm.streams.add(wanted);
      logger.info("stream created", { stream: name, subjects });
      return info;
    } catch (err) {
      if (isApiError(err, SUBJECTS_OVERLAP)) {
        const holder = await jsm.streams.find(subjects[0]!).catch(() => "another stream");
        throw new EventStreamError(
          name,
          `subjects ${subjects.join(",")} already belong to stream ${holder} on this server (one mesh stream per server: use that name, or another nats-server)`,
          { cause: err },
        );
      }
      // Another service may have created it at the same moment; then it is compared below.
      info = await streamInfo(jsm, name);
      if (info === undefined) throw new EventStreamError(name, "could not be created", { cause: err });
    }
  }
  if (info.config.storage !== StorageType.File) {
    throw new EventStreamError(name, `exists with ${info.config.storage} storage, which cannot be changed to file; delete it first`);
  }
  const differs =
    !sameSubjects(info.config.subjects, subjects) || info.config.duplicate_window !== wanted.duplicate_window || info.config.max_age !== wanted.max_age;
  if (!differs) return info;
  try {
    info = await jsm.streams.update(name, {
      subjects,
      duplicate_window: wanted.duplicate_window!,
      max_age: wanted.max_age!,
    });
    logger.info("stream updated to the mesh configuration", { stream: name });
    return info;
  } catch (err) {
    throw new EventStreamError(name, "could not be updated to the mesh configuration", { cause: err });
  }
}
