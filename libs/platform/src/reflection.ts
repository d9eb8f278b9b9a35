/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and `buf curl` can list
 * and call our services with no proto files at hand. connect-node has none built in; this one
 * answers from a file registry of the generated descriptors (@vexxy/proto's allFiles, the
 * mounted services' files and the well-known types), each file sent as a serialized
 * FileDescriptorProto together with all its transitive dependencies.
 */
import { create, createFileRegistry, fromBinary, toBinary, type DescFile, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { allFiles, reflectionV1, reflectionV1alpha } from "@vexxy/proto";

// Status codes carried inside ErrorResponse (gRPC numbering).
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

const WELL_KNOWN_FILES: readonly DescFile[] = [
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
];

/** The services and descriptors a reflection endpoint describes. */
export interface ReflectionIndex {
  /** Fully qualified names answered to list_services. */
  readonly serviceNames: readonly string[];
  readonly registry: FileRegistry;
}

/** Orders files so that each comes after its dependencies, walking imports depth first. */
function filesInDependencyOrder(roots: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dep of file.dependencies) visit(dep);
    ordered.push(file);
  };
  for (const file of roots) visit(file);
  return ordered;
}

/**
 * Builds the index for a server that mounts `services`: list_services answers those plus
 * grpc.health.v1.Health and both reflection services.
 * @throws Error when a descriptor cannot be added to the registry (a broken generated file).
 */
export function createReflectionIndex(services: readonly DescService[], extraFiles: readonly DescFile[] = []): ReflectionIndex {
  const files = filesInDependencyOrder([...WELL_KNOWN_FILES, ...allFiles, ...extraFiles, ...services.map((s) => s.file)]);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }));
  const names = new Set<string>(services.map((s) => s.typeName));
  names.add("grpc.health.v1.Health");
  names.add(reflectionV1.ServerReflection.typeName);
  names.add(reflectionV1alpha.ServerReflection.typeName);
  return { serviceNames: [...names].sort(), registry };
}

/** The file declaring a fully qualified symbol: a message, enum, service or extension (nested too, map entries included), a method, a field or an enum value. */
function fileContainingSymbol(registry: FileRegistry, symbol: string): DescFile | undefined {
  const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
  const direct = registry.get(name);
  if (direct !== undefined) return direct.file;
  const dot = name.lastIndexOf(".");
  if (dot < 0) return undefined;
  const parent = registry.get(name.slice(0, dot));
  const member = name.slice(dot + 1);
  if (parent === undefined) {
    // Enum values are scoped as siblings of their enum: pkg.VALUE for a top-level enum.
    for (const file of registry.files) {
      if (file.proto.package !== name.slice(0, dot)) continue;
      if (file.enums.some((e) => e.values.some((v) => v.name === member))) return file;
    }
    return undefined;
  }
  switch (parent.kind) {
    case "service":
      return parent.methods.some((m) => m.name === member) ? parent.file : undefined;
    case "message":
      // Map entry messages exist only in the descriptor (protobuf-es folds them into map fields).
      if (parent.proto.nestedType.some((n) => n.name === member)) return parent.file;
      if (parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member)) return parent.file;
      return parent.nestedEnums.some((e) => e.values.some((v) => v.name === member)) ? parent.file : undefined;
    case "enum":
      return parent.values.some((v) => v.name === member) ? parent.file : undefined;
    default:
      return undefined;
  }
}

/** The file first, then every transitive dependency once, each as serialized FileDescriptorProto. */
function fileWithDependencies(registry: FileRegistry, file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const queue: DescFile[] = [file];
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === undefined || seen.has(next.proto.name)) continue;
    seen.add(next.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, next.proto));
    for (const depName of next.proto.dependency) {
      const dep = registry.getFile(depName);
      if (dep !== undefined) queue.push(dep);
    }
  }
  return out;
}

type V1Request = reflectionV1.ServerReflectionRequest;
type V1Response = reflectionV1.ServerReflectionResponse;
type V1Answer = V1Response["messageResponse"];

function errorAnswer(code: number, message: string): V1Answer {
  return { case: "errorResponse", value: create(reflectionV1.ErrorResponseSchema, { errorCode: code, errorMessage: message }) };
}

function filesAnswer(registry: FileRegistry, file: DescFile): V1Answer {
  return {
    case: "fileDescriptorResponse",
    value: create(reflectionV1.FileDescriptorResponseSchema, { fileDescriptorProto: fileWithDependencies(registry, file) }),
  };
}

/** Answers one reflection request (v1 shapes). Never throws: failures are ErrorResponse. */
export function answerReflection(index: ReflectionIndex, request: V1Request): V1Response {
  const { registry } = index;
  const req = request.messageRequest;
  let answer: V1Answer;
  switch (req.case) {
    case "listServices":
      answer = {
        case: "listServicesResponse",
        value: create(reflectionV1.ListServiceResponseSchema, { service: index.serviceNames.map((name) => ({ name })) }),
      };
      break;
    case "fileByFilename": {
      const file = registry.getFile(req.value);
      answer = file === undefined ? errorAnswer(NOT_FOUND, `file not found: ${req.value}`) : filesAnswer(registry, file);
      break;
    }
    case "fileContainingSymbol": {
      const file = fileContainingSymbol(registry, req.value);
      answer = file === undefined ? errorAnswer(NOT_FOUND, `symbol not found: ${req.value}`) : filesAnswer(registry, file);
      break;
    }
    case "fileContainingExtension": {
      const extendee = registry.getMessage(req.value.containingType);
      const extension = extendee === undefined ? undefined : registry.getExtensionFor(extendee, req.value.extensionNumber);
      answer =
        extension === undefined
          ? errorAnswer(NOT_FOUND, `extension not found: ${req.value.containingType} ${req.value.extensionNumber}`)
          : filesAnswer(registry, extension.file);
      break;
    }
    case "allExtensionNumbersOfType": {
      const message = registry.getMessage(req.value);
      if (message === undefined) {
        answer = errorAnswer(NOT_FOUND, `type not found: ${req.value}`);
        break;
      }
      const numbers: number[] = [];
      for (const desc of registry) if (desc.kind === "extension" && desc.extendee.typeName === message.typeName) numbers.push(desc.number);
      answer = {
        case: "allExtensionNumbersResponse",
        value: create(reflectionV1.ExtensionNumberResponseSchema, { baseTypeName: message.typeName, extensionNumber: numbers.sort((a, b) => a - b) }),
      };
      break;
    }
    default:
      answer = errorAnswer(INVALID_ARGUMENT, "empty reflection request");
  }
  return create(reflectionV1.ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse: answer });
}

/** grpc.reflection.v1.ServerReflection over an index. */
export function createReflectionServiceV1(index: ReflectionIndex): ServiceImpl<typeof reflectionV1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answerReflection(index, request);
    },
  };
}

/**
 * grpc.reflection.v1alpha.ServerReflection over an index. v1 is v1alpha renamed with identical
 * messages and field numbers, so each message is bridged through its wire form.
 */
export function createReflectionServiceV1alpha(index: ReflectionIndex): ServiceImpl<typeof reflectionV1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const v1 = fromBinary(reflectionV1.ServerReflectionRequestSchema, toBinary(reflectionV1alpha.ServerReflectionRequestSchema, request));
        const response = answerReflection(index, v1);
        yield fromBinary(reflectionV1alpha.ServerReflectionResponseSchema, toBinary(reflectionV1.ServerReflectionResponseSchema, response));
      }
    },
  };
}
