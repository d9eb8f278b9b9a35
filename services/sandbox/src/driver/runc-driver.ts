/**
 * LocalRuncDriver: the embedded default's sandbox driver, everything on this host.
 *
 * create takes the image in (prepareImage: the manifest digest checked against the job's, the
 * layers unpacked safely under the size cap) into <workDir>/images/<containerId>, catalogues the
 * unpacked root (buildCatalogue), builds the process from the image config and the job's
 * environment (workloadProcess, users resolved inside the image root), and creates the runc
 * container on that root (RuncRuntime, bundles in <workDir>/bundles). The trace scope is the
 * container's host cgroup and its init's pid. An abort stops create at its next step (skopeo is
 * killed, extraction stops at the next tar entry) and everything made so far is removed, as on
 * any failure. destroy removes the container, its cgroups, its bundle and the unpacked image.
 */
import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { buildCatalogue } from "../catalogue/index.js";
import { prepareImage } from "../image/index.js";
import { CONTAINER_ID_PREFIX, isOurContainerId } from "./container-id.js";
import { InvalidSandboxSpecError, SandboxCreateAbortedError, SandboxDriverError } from "./driver-errors.js";
import { RuncRuntime, type RuncRuntimeOptions } from "./runc-runtime.js";
import type { SandboxDriver, SandboxExecResult, SandboxHandle, SandboxLimits, SandboxSpec, SandboxWaitResult } from "./sandbox-driver.js";
import { workloadProcess } from "./workload-process.js";

export interface LocalRuncDriverOptions extends Omit<RuncRuntimeOptions, "workDir"> {
  /** The driver's own directory: bundles/ and images/ below it. */
  readonly workDir: string;
  /** Cap of one image's unpacked size (prepareImage's default when absent). */
  readonly maxUnpackedBytes?: number;
  readonly skopeoPath?: string;
  /** location.node of every sandbox; this host's name when absent. */
  readonly node?: string;
}

/** The local driver. Construct once per process; it remembers the sandboxes it created. */
export class LocalRuncDriver implements SandboxDriver {
  readonly name = "local";
  /** The container half (cgroup layout, bundles): for diagnostics and tests. */
  readonly runtime: RuncRuntime;
  private readonly node: string;
  private readonly creating = new Set<string>();

  /** @throws SandboxDriverError when the host has no cgroup v2 tree (pure v1). */
  constructor(private readonly options: LocalRuncDriverOptions) {
    const { workDir, maxUnpackedBytes: _cap, skopeoPath: _skopeo, node, ...runc } = options;
    this.runtime = new RuncRuntime({ ...runc, workDir: join(workDir, "bundles") });
    this.node = node ?? hostname();
  }

  /** The driver's default limits. */
  get limits(): SandboxLimits {
    return this.runtime.limits;
  }

  /** Where the image of a sandbox is unpacked (removed by destroy). */
  imageDirOf(containerId: string): string {
    return join(this.options.workDir, "images", containerId);
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle> {
    const id = spec.containerId;
    if (!isOurContainerId(id)) throw new InvalidSandboxSpecError("container_id", `"${id}" is not a ${CONTAINER_ID_PREFIX}* id runc accepts`);
    if (this.creating.has(id) || this.runtime.has(id)) throw new SandboxDriverError(`sandbox ${id} already exists`);
    this.creating.add(id);
    try {
      signal?.throwIfAborted();
      const image = await prepareImage({
        imageRef: spec.image.ref,
        expectedDigest: spec.image.expectedDigest,
        workDir: this.imageDirOf(id),
        ...(this.options.maxUnpackedBytes !== undefined ? { maxUnpackedBytes: this.options.maxUnpackedBytes } : {}),
        ...(this.options.skopeoPath !== undefined ? { skopeoPath: this.options.skopeoPath } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
      signal?.throwIfAborted();
      const catalogue = await buildCatalogue(image.rootfsDir, image.manifestDigest);
      signal?.throwIfAborted();
      const process = await workloadProcess(image.rootfsDir, image.imageConfig, spec.environment ?? {});
      signal?.throwIfAborted();
      const container = await this.runtime.create({
        containerId: id,
        rootfsDir: image.rootfsDir,
        process,
        ...(spec.limits !== undefined ? { limits: spec.limits } : {}),
      });
      // An abort that came while runc created the container: it is removed below like the rest.
      signal?.throwIfAborted();
      return Object.freeze({
        containerId: id,
        manifestDigest: image.manifestDigest,
        catalogue,
        location: Object.freeze({ node: this.node, runtime: "runc" }),
        traceScope: Object.freeze({ kind: "host_cgroup", cgroupV2Path: container.cgroupV2Path, initPid: container.initPid }),
        limits: container.limits,
      });
    } catch (error) {
      // Nothing of a sandbox that was not handed out stays behind; a teardown that fails here
      // is retried by the caller's destroy, which reports it.
      await this.destroy(id).catch(() => undefined);
      if (signal?.aborted === true) throw new SandboxCreateAbortedError(id, { cause: error });
      throw error;
    } finally {
      this.creating.delete(id);
    }
  }

  start(containerId: string): Promise<void> {
    return this.runtime.start(containerId);
  }

  wait(containerId: string, timeoutMs: number): Promise<SandboxWaitResult> {
    return this.runtime.wait(containerId, timeoutMs);
  }

  exec(containerId: string, argv: readonly string[], timeoutMs: number): Promise<SandboxExecResult> {
    return this.runtime.exec(containerId, argv, timeoutMs);
  }

  kill(containerId: string): Promise<void> {
    return this.runtime.kill(containerId);
  }

  async destroy(containerId: string): Promise<void> {
    if (!isOurContainerId(containerId)) throw new InvalidSandboxSpecError("container_id", `"${containerId}" is not one of ours`);
    try {
      await this.runtime.destroy(containerId);
    } finally {
      // The customer's image goes even when the runtime's teardown failed (that failure is thrown).
      await rm(this.imageDirOf(containerId), { recursive: true, force: true });
    }
  }

  list(): Promise<string[]> {
    return this.runtime.list();
  }

  /** Whether the driver holds a created sandbox with this id (created by this process). */
  has(containerId: string): boolean {
    return this.runtime.has(containerId);
  }
}
