/**
 * A plain @grpc/grpc-js client of any generated service, the way VEXxy core calls us: messages
 * are (de)serialized with protobuf-es toBinary/fromBinary, the client class comes from grpc-js's
 * makeGenericClientConstructor, and calls are typed by the method's input and output messages.
 * Failed calls reject (or, for streams, throw) with grpc-js's ServiceError, whose `code` is the
 * gRPC status and `details` the server's message as grpc-js decodes it: with the escapes of
 * URI-reserved characters left in (`%3A` for ':'; see grpcStatusMessage).
 */
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  type CallOptions,
  type Client,
  type ClientReadableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";

type Methods<S extends DescService> = S["method"];

/** Local names (e.g. "getAnalysis") of the service's methods of one kind. */
type MethodNamesOfKind<S extends DescService, Kind extends DescMethod["methodKind"]> = {
  [K in keyof Methods<S>]: Methods<S>[K] extends { methodKind: Kind } ? K : never;
}[keyof Methods<S>] &
  string;

/** Local names of the unary methods of S. */
export type UnaryMethodName<S extends DescService> = MethodNamesOfKind<S, "unary">;

/** Local names of the server-streaming methods of S. */
export type ServerStreamMethodName<S extends DescService> = MethodNamesOfKind<S, "server_streaming">;

/** The request message of method K of S. */
export type MethodInput<S extends DescService, K extends keyof Methods<S>> = Methods<S>[K] extends { input: infer I extends DescMessage }
  ? MessageShape<I>
  : never;

/** A request for method K of S: the message, or an init object for it. */
export type MethodInputInit<S extends DescService, K extends keyof Methods<S>> = Methods<S>[K] extends { input: infer I extends DescMessage }
  ? MessageInitShape<I>
  : never;

/** The response message of method K of S. */
export type MethodOutput<S extends DescService, K extends keyof Methods<S>> = Methods<S>[K] extends { output: infer O extends DescMessage }
  ? MessageShape<O>
  : never;

export interface GrpcJsCallOptions {
  /** Call deadline in ms from now. */
  readonly timeoutMs?: number;
  /** Request metadata (e.g. authorization). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A grpc-js client of service S. */
export interface GrpcJsClient<S extends DescService> {
  /**
   * Calls a unary method by its local name.
   * Rejects with grpc-js's ServiceError (`code`, `details`) when the call fails.
   */
  unary<K extends UnaryMethodName<S>>(method: K, request: MethodInputInit<S, K>, options?: GrpcJsCallOptions): Promise<MethodOutput<S, K>>;
  /**
   * Calls a server-streaming method; iterate the responses. Leaving the loop early cancels the
   * call. Throws grpc-js's ServiceError when the call fails.
   */
  serverStream<K extends ServerStreamMethodName<S>>(method: K, request: MethodInputInit<S, K>, options?: GrpcJsCallOptions): AsyncIterable<MethodOutput<S, K>>;
  /** Closes the channel. */
  close(): void;
}

// Responses such as signed VEX bundles may exceed grpc-js's 4 MiB default.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function serializer(schema: DescMessage): (value: MessageShape<DescMessage>) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => MessageShape<DescMessage> {
  return (bytes) => fromBinary(schema, bytes);
}

function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
      originalName: method.localName,
    };
  }
  return definition;
}

function callArgs(options: GrpcJsCallOptions | undefined, defaults: Readonly<Record<string, string>>): { metadata: Metadata; callOptions: CallOptions } {
  const metadata = new Metadata();
  // A call's own metadata wins over the client's (a test sends another token on one call).
  for (const [key, value] of Object.entries({ ...defaults, ...options?.metadata })) metadata.set(key, value);
  const callOptions: CallOptions = {};
  if (options?.timeoutMs !== undefined) callOptions.deadline = new Date(Date.now() + options.timeoutMs);
  return { metadata, callOptions };
}

/** Options of a whole client. */
export interface GrpcJsClientOptions {
  /** Metadata sent on every call, e.g. `{ authorization: "Bearer <token>" }`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Creates a grpc-js client of `service` at `address` ("host:port"; a leading "http://" is
 * dropped) over a plaintext HTTP/2 channel. Connects lazily, on the first call.
 * @throws Error when a method name is not a method of the service of the right kind.
 */
export function createGrpcJsClient<S extends DescService>(service: S, address: string, clientOptions: GrpcJsClientOptions = {}): GrpcJsClient<S> {
  const defaults = clientOptions.metadata ?? {};
  const target = address.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const Constructor = makeGenericClientConstructor(serviceDefinition(service), service.typeName);
  const client: Client = new Constructor(target, credentials.createInsecure(), {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });

  const methodOf = (name: string, kind: DescMethod["methodKind"]): DescMethod => {
    const method = service.method[name];
    if (method === undefined || method.methodKind !== kind) throw new Error(`${service.typeName} has no ${kind} method ${JSON.stringify(name)}`);
    return method;
  };

  return {
    unary<K extends UnaryMethodName<S>>(name: K, request: MethodInputInit<S, K>, options?: GrpcJsCallOptions): Promise<MethodOutput<S, K>> {
      const method = methodOf(name, "unary");
      const message = create(method.input, request);
      const { metadata, callOptions } = callArgs(options, defaults);
      return new Promise<MethodOutput<S, K>>((resolve, reject) => {
        client.makeUnaryRequest(
          `/${service.typeName}/${method.name}`,
          serializer(method.input),
          deserializer(method.output),
          message,
          metadata,
          callOptions,
          (err, response) => {
            if (err !== null) reject(err);
            else if (response === undefined) reject(new Error(`${service.typeName}/${method.name} returned no response`));
            else resolve(response as MethodOutput<S, K>);
          },
        );
      });
    },

    serverStream<K extends ServerStreamMethodName<S>>(name: K, request: MethodInputInit<S, K>, options?: GrpcJsCallOptions): AsyncIterable<MethodOutput<S, K>> {
      const method = methodOf(name, "server_streaming");
      const message = create(method.input, request);
      const { metadata, callOptions } = callArgs(options, defaults);
      return {
        async *[Symbol.asyncIterator]() {
          const call: ClientReadableStream<MessageShape<DescMessage>> = client.makeServerStreamRequest(
            `/${service.typeName}/${method.name}`,
            serializer(method.input),
            deserializer(method.output),
            message,
            metadata,
            callOptions,
          );
          let finished = false;
          try {
            for await (const response of call as AsyncIterable<MessageShape<DescMessage>>) yield response as MethodOutput<S, K>;
            finished = true;
          } finally {
            if (!finished) call.cancel();
          }
        },
      };
    },

    close() {
      client.close();
    },
  };
}

// What decodeURI leaves encoded: the escapes of ; / ? : @ & = + $ , #
const RESERVED_ESCAPE = /%(?:3B|2F|3F|3A|40|26|3D|2B|24|2C|23)/gi;

/**
 * The server's status message of a failed grpc-js call (`details`, or "" when there is none).
 * grpc-message travels percent-encoded; @grpc/grpc-js decodes it with decodeURI, which decodes
 * UTF-8 and "%25" but leaves the escapes of URI-reserved characters, and connect-node's server
 * encodes those too (encodeURIComponent, which the gRPC spec allows), so `details` shows
 * "image_digest%3A" for "image_digest:". This decodes what decodeURI left. A message that itself
 * contained the text "%3A" cannot be told apart after grpc-js's decoding and comes back as ":".
 */
export function grpcStatusMessage(err: { readonly details?: string }): string {
  return (err.details ?? "").replace(RESERVED_ESCAPE, (seq) => String.fromCharCode(Number.parseInt(seq.slice(1), 16)));
}
