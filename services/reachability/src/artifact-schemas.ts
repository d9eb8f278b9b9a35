/**
 * Schemas of the artifacts this service decodes, taken from the generated file descriptor.
 * Why not import ExecutionProfileSchema from @vexxy/proto: vexxy.orchestrator.v1 has a message
 * of the same name, so under native ESM that star-exported name is ambiguous and the import
 * fails at load time. The file descriptor's own export is unambiguous.
 */
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { messageDesc } from "@bufbuild/protobuf/codegenv2";
import { file_vexxy_events_v1_artifacts, type ExecutionProfile, type FileAccess, type ImageCatalogue } from "@vexxy/proto";

function schema<T extends ImageCatalogue | ExecutionProfile | FileAccess>(index: number, typeName: T["$typeName"]): GenMessage<T> {
  const desc = messageDesc(file_vexxy_events_v1_artifacts, index) as GenMessage<T>;
  if (desc.typeName !== typeName) throw new Error(`artifacts.proto changed: message ${index} is ${desc.typeName}, not ${typeName}`);
  return desc;
}

/** vexxy.events.v1.ImageCatalogue. */
export const ImageCatalogueSchema: GenMessage<ImageCatalogue> = schema<ImageCatalogue>(0, "vexxy.events.v1.ImageCatalogue");
/** vexxy.events.v1.ExecutionProfile. */
export const ExecutionProfileSchema: GenMessage<ExecutionProfile> = schema<ExecutionProfile>(2, "vexxy.events.v1.ExecutionProfile");
/** vexxy.events.v1.FileAccess. */
export const FileAccessSchema: GenMessage<FileAccess> = schema<FileAccess>(3, "vexxy.events.v1.FileAccess");
