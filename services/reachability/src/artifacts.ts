/**
 * Decoding of the stage's input artifacts (the sandbox's ImageCatalogue and the profiler's
 * ExecutionProfile, both stored as protobuf JSON) and the event facts that tighten a profile.
 */
import { fromJsonString } from "@bufbuild/protobuf";
import type { ExecutionProfile, ImageCatalogue, ProfileReady } from "@vexxy/proto";
import { WorkloadOutcome } from "@vexxy/proto";
import { ExecutionProfileSchema, ImageCatalogueSchema } from "@vexxy/proto";
import { ArtifactDecodeError } from "./errors.js";

/**
 * Decodes an ImageCatalogue.
 * @throws ArtifactDecodeError("catalogue") when the bytes are not its protobuf JSON.
 */
export function decodeCatalogue(bytes: Uint8Array): ImageCatalogue {
  try {
    return fromJsonString(ImageCatalogueSchema, Buffer.from(bytes).toString("utf8"), { ignoreUnknownFields: true });
  } catch (error) {
    throw new ArtifactDecodeError("catalogue", `not an ImageCatalogue in protobuf JSON (${String(error)})`, { cause: error });
  }
}

/**
 * Decodes an ExecutionProfile.
 * @throws ArtifactDecodeError("profile") when the bytes are not its protobuf JSON.
 */
export function decodeProfile(bytes: Uint8Array): ExecutionProfile {
  try {
    return fromJsonString(ExecutionProfileSchema, Buffer.from(bytes).toString("utf8"), { ignoreUnknownFields: true });
  } catch (error) {
    throw new ArtifactDecodeError("profile", `not an ExecutionProfile in protobuf JSON (${String(error)})`, { cause: error });
  }
}

/**
 * The profile with what the profile.ready event says added, never removed: an event that
 * calls the trace incomplete or names a loss makes the profile incomplete; an outcome the
 * profile lacks is taken from the event. (Fail closed: the weaker claim of the two wins.)
 */
export function tightenProfile(profile: ExecutionProfile, event: ProfileReady): ExecutionProfile {
  const lossReasons = [...profile.lossReasons];
  for (const reason of event.lossReasons) if (!lossReasons.includes(reason)) lossReasons.push(reason);
  return {
    ...profile,
    complete: profile.complete && event.complete,
    lossReasons,
    outcome: profile.outcome === WorkloadOutcome.UNSPECIFIED ? event.outcome : profile.outcome,
  };
}
