/**
 * Our rules for the manifests, beyond the Kubernetes schema. Each check returns the problems it
 * found as sentences naming the object (empty: the rule holds), so a test can show a rule
 * failing on a broken copy as well as holding on the real manifests.
 */
import type { Manifest } from "./load-manifests.js";

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

/** "Kind namespace/name" of an object, for messages. */
export function describeObject(object: Obj): string {
  const metadata = obj(object["metadata"]);
  const namespace = metadata["namespace"];
  return `${String(object["kind"])} ${typeof namespace === "string" ? `${namespace}/` : ""}${String(metadata["name"])}`;
}

/** The kinds that carry a pod template. */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

/** The pod spec of a workload, or undefined for other kinds. */
export function podSpecOf(object: Obj): Obj | undefined {
  if (!WORKLOAD_KINDS.has(String(object["kind"]))) return undefined;
  return obj(obj(obj(object["spec"])["template"])["spec"]);
}

/** The pod template's labels of a workload. */
export function podLabelsOf(object: Obj): Obj {
  return obj(obj(obj(obj(object["spec"])["template"])["metadata"])["labels"]);
}

/** Every container of a pod spec, init containers included. */
export function containersOf(podSpec: Obj): Obj[] {
  return [...list(podSpec["initContainers"]), ...list(podSpec["containers"])];
}

/** Whether a workload is the Tracee DaemonSet, the one pod allowed to be privileged. */
export function isTracee(object: Obj): boolean {
  const metadata = obj(object["metadata"]);
  return object["kind"] === "DaemonSet" && metadata["namespace"] === "vexxy-tracee" && metadata["name"] === "tracee";
}

/**
 * Every pod but Tracee's: runs as non-root with RuntimeDefault seccomp; every container has
 * no privilege escalation, a read-only root filesystem, every capability dropped, is not
 * privileged, and has CPU and memory requests and limits. Tracee: privileged only in its
 * own namespace, with hostPID, on sandbox nodes only, with resources.
 */
export function checkPodSecurity(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const { object } of manifests) {
    const podSpec = podSpecOf(object);
    if (podSpec === undefined) continue;
    const name = describeObject(object);
    for (const container of containersOf(podSpec)) {
      const resources = obj(container["resources"]);
      for (const bound of ["requests", "limits"]) {
        for (const resource of ["cpu", "memory"]) {
          if (obj(resources[bound])[resource] === undefined) problems.push(`${name}: container ${String(container["name"])} has no ${resource} ${bound}`);
        }
      }
    }
    if (isTracee(object)) {
      if (podSpec["hostPID"] !== true) problems.push(`${name}: Tracee needs hostPID to see the sandbox's processes`);
      if (obj(podSpec["nodeSelector"])["vexxy.dev/sandbox-node"] !== "true") problems.push(`${name}: Tracee must run on sandbox nodes only`);
      continue;
    }
    const podContext = obj(podSpec["securityContext"]);
    if (podContext["runAsNonRoot"] !== true) problems.push(`${name}: pod securityContext.runAsNonRoot is not true`);
    if (obj(podContext["seccompProfile"])["type"] !== "RuntimeDefault") problems.push(`${name}: pod seccompProfile is not RuntimeDefault`);
    for (const key of ["hostPID", "hostIPC", "hostNetwork"]) if (podSpec[key] === true) problems.push(`${name}: ${key} is set`);
    for (const volume of list(podSpec["volumes"]))
      if (volume["hostPath"] !== undefined) problems.push(`${name}: volume ${String(volume["name"])} is a hostPath`);
    for (const container of containersOf(podSpec)) {
      const where = `${name}: container ${String(container["name"])}`;
      const context = obj(container["securityContext"]);
      if (context["allowPrivilegeEscalation"] !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (context["readOnlyRootFilesystem"] !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
      if (context["privileged"] === true) problems.push(`${where}: is privileged`);
      if (context["runAsUser"] === 0) problems.push(`${where}: runs as uid 0`);
      const drop = obj(context["capabilities"])["drop"];
      if (!Array.isArray(drop) || !drop.includes("ALL")) problems.push(`${where}: capabilities.drop does not include ALL`);
      if (obj(context["capabilities"])["add"] !== undefined) problems.push(`${where}: adds capabilities`);
      const seccomp = obj(context["seccompProfile"])["type"];
      if (seccomp !== undefined && seccomp !== "RuntimeDefault") problems.push(`${where}: seccompProfile is ${String(seccomp)}`);
    }
  }
  return problems;
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;
// A release tag: a version (1.2, v1.2.3, 16.6-bookworm, 2.10.24-alpine) or a dated release
// (MinIO's RELEASE.2025-04-22T22-12-26Z); never latest, never a branch name such as main.
const RELEASE_TAG = /:(v?\d+(\.\d+)+([-.][0-9A-Za-z.-]+)?|RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z)$/;

/** Every image is pinned by digest or by a release tag (never latest or untagged), and is not always re-pulled. */
export function checkImages(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const { object } of manifests) {
    const podSpec = podSpecOf(object);
    if (podSpec === undefined) continue;
    for (const container of containersOf(podSpec)) {
      const image = String(container["image"]);
      const where = `${describeObject(object)}: container ${String(container["name"])} image ${image}`;
      if (/:latest(@|$)/.test(image)) problems.push(`${where} uses the latest tag`);
      else if (!DIGEST.test(image) && !RELEASE_TAG.test(image)) problems.push(`${where} is pinned neither by digest nor by a release tag`);
      if (container["imagePullPolicy"] !== "IfNotPresent") problems.push(`${where}: imagePullPolicy is not IfNotPresent`);
    }
  }
  return problems;
}

/** The five mesh services. */
export const MESH_SERVICES = ["orchestrator", "sandbox", "profiler", "reachability", "vex"] as const;

function find(manifests: readonly Manifest[], kind: string, namespace: string | undefined, name: string): Obj | undefined {
  return manifests.find(({ object }) => {
    const metadata = obj(object["metadata"]);
    return object["kind"] === kind && metadata["name"] === name && (namespace === undefined || metadata["namespace"] === namespace);
  })?.object;
}

function selects(selector: Obj, labels: Obj): boolean {
  const matchLabels = obj(selector["matchLabels"]);
  return Object.keys(matchLabels).length > 0 && Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

/**
 * Each mesh service: a Deployment of 2 replicas, probed over grpc on its container port
 * (startup, readiness, liveness), a Service whose selector and targetPort reach it, and a
 * PodDisruptionBudget keeping at least one pod.
 */
export function checkMeshServices(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const service of MESH_SERVICES) {
    const deployment = find(manifests, "Deployment", "vexxy", service);
    if (deployment === undefined) {
      problems.push(`no Deployment vexxy/${service}`);
      continue;
    }
    if (obj(deployment["spec"])["replicas"] !== 2) problems.push(`Deployment vexxy/${service}: replicas is not 2`);
    const labels = podLabelsOf(deployment);
    const container = list(podSpecOf(deployment)?.["containers"])[0] ?? {};
    const port = list(container["ports"]).find((p) => p["name"] === "grpc")?.["containerPort"];
    if (typeof port !== "number") problems.push(`Deployment vexxy/${service}: no container port named grpc`);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const grpc = obj(obj(container[probe])["grpc"]);
      if (grpc["port"] !== port) problems.push(`Deployment vexxy/${service}: ${probe} is not a grpc probe on port ${String(port)}`);
    }
    const svc = find(manifests, "Service", "vexxy", service);
    if (svc === undefined) problems.push(`no Service vexxy/${service}`);
    else {
      const spec = obj(svc["spec"]);
      const selector = obj(spec["selector"]);
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v) || Object.keys(selector).length === 0)
        problems.push(`Service vexxy/${service}: selector does not select the Deployment's pods`);
      if (!list(spec["ports"]).some((p) => p["targetPort"] === "grpc" && p["port"] === port))
        problems.push(`Service vexxy/${service}: no port ${String(port)} to grpc`);
    }
    const pdb = manifests.find(({ object }) => object["kind"] === "PodDisruptionBudget" && selects(obj(obj(object["spec"])["selector"]), labels))?.object;
    if (pdb === undefined) problems.push(`Deployment vexxy/${service}: no PodDisruptionBudget selects its pods`);
    else if (obj(pdb["spec"])["minAvailable"] !== 1) problems.push(`${describeObject(pdb)}: minAvailable is not 1`);
  }
  return problems;
}

const CLUSTER_SCOPED = new Set(["Namespace", "RuntimeClass", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "PriorityClass"]);

/** Namespaced objects name one of our namespaces; no ClusterRole or ClusterRoleBinding exists. */
export function checkNamespaces(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const ours = new Set(["vexxy", "vexxy-sandbox", "vexxy-tracee"]);
  for (const { object } of manifests) {
    const kind = String(object["kind"]);
    if (kind === "ClusterRole" || kind === "ClusterRoleBinding") problems.push(`${describeObject(object)}: cluster-wide RBAC is not allowed`);
    if (CLUSTER_SCOPED.has(kind)) continue;
    const namespace = obj(object["metadata"])["namespace"];
    if (typeof namespace !== "string" || !ours.has(namespace)) problems.push(`${describeObject(object)}: namespace is not one of ${[...ours].join(", ")}`);
  }
  return problems;
}

/**
 * The sandbox service's ServiceAccount may create and delete Jobs and Pods in vexxy-sandbox
 * and is bound nowhere else; no Role grants a wildcard.
 */
export function checkSandboxRbac(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const { object } of manifests) {
    if (object["kind"] === "Role") {
      for (const rule of list(object["rules"])) {
        for (const key of ["apiGroups", "resources", "verbs"]) {
          const values = rule[key];
          if (Array.isArray(values) && values.includes("*")) problems.push(`${describeObject(object)}: grants ${key} "*"`);
        }
      }
    }
  }
  const bindings = manifests.filter(
    ({ object }) =>
      object["kind"] === "RoleBinding" &&
      list(object["subjects"]).some((s) => s["kind"] === "ServiceAccount" && s["name"] === "sandbox" && s["namespace"] === "vexxy"),
  );
  if (bindings.length === 0) problems.push("the sandbox ServiceAccount is bound to no Role");
  for (const { object: binding } of bindings) {
    const namespace = obj(binding["metadata"])["namespace"];
    if (namespace !== "vexxy-sandbox") {
      problems.push(`${describeObject(binding)}: binds the sandbox ServiceAccount outside vexxy-sandbox`);
      continue;
    }
    const roleRef = obj(binding["roleRef"]);
    if (roleRef["kind"] !== "Role") problems.push(`${describeObject(binding)}: binds a ${String(roleRef["kind"])}, not a namespaced Role`);
    const role = find(manifests, "Role", "vexxy-sandbox", String(roleRef["name"]));
    if (role === undefined) {
      problems.push(`${describeObject(binding)}: Role ${String(roleRef["name"])} not found in vexxy-sandbox`);
      continue;
    }
    const may = (group: string, resource: string, verb: string) =>
      list(role["rules"]).some((r) => includes(r["apiGroups"], group) && includes(r["resources"], resource) && includes(r["verbs"], verb));
    for (const [group, resource] of [
      ["batch", "jobs"],
      ["", "pods"],
    ] as const) {
      for (const verb of ["create", "delete"])
        if (!may(group, resource, verb)) problems.push(`Role vexxy-sandbox/${String(roleRef["name"])}: may not ${verb} ${resource}`);
    }
  }
  return problems;
}

function includes(values: unknown, value: string): boolean {
  return Array.isArray(values) && values.includes(value);
}

/**
 * vexxy-sandbox denies all traffic (a policy selecting every pod, both directions, no rule) and
 * no policy there allows any egress; the mesh namespace denies by default too; the RuntimeClass
 * gvisor uses the runsc handler.
 */
export function checkIsolation(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const policies = manifests.filter(({ object }) => object["kind"] === "NetworkPolicy").map(({ object }) => object);
  const denyAll = (namespace: string) =>
    policies.some((p) => {
      const spec = obj(p["spec"]);
      return (
        obj(p["metadata"])["namespace"] === namespace &&
        Object.keys(obj(spec["podSelector"])).length === 0 &&
        includes(spec["policyTypes"], "Ingress") &&
        includes(spec["policyTypes"], "Egress") &&
        spec["ingress"] === undefined &&
        spec["egress"] === undefined
      );
    });
  for (const namespace of ["vexxy-sandbox", "vexxy"]) if (!denyAll(namespace)) problems.push(`namespace ${namespace} has no deny-all NetworkPolicy`);
  for (const p of policies) {
    if (obj(p["metadata"])["namespace"] === "vexxy-sandbox" && (obj(p["spec"])["egress"] !== undefined || obj(p["spec"])["ingress"] !== undefined))
      problems.push(`${describeObject(p)}: allows traffic in the sandbox namespace`);
  }
  const gvisor = find(manifests, "RuntimeClass", undefined, "gvisor");
  if (gvisor === undefined) problems.push("no RuntimeClass gvisor");
  else if (gvisor["handler"] !== "runsc") problems.push(`RuntimeClass gvisor: handler is ${String(gvisor["handler"])}, not runsc`);
  return problems;
}

/**
 * Every ConfigMap and Secret a pod reads (envFrom, env valueFrom, volumes) exists: ConfigMaps in
 * the base with the key, Secrets in secrets.example.yaml with the key, in the pod's namespace.
 */
export function checkReferences(manifests: readonly Manifest[], secrets: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const keysOf = (source: readonly Manifest[], kind: string, namespace: string, name: string): Set<string> | undefined => {
    const found = find(source, kind, namespace, name);
    if (found === undefined) return undefined;
    return new Set([...Object.keys(obj(found["data"])), ...Object.keys(obj(found["stringData"]))]);
  };
  for (const { object } of manifests) {
    const podSpec = podSpecOf(object);
    if (podSpec === undefined) continue;
    const namespace = String(obj(object["metadata"])["namespace"]);
    const need = (kind: "ConfigMap" | "Secret", name: unknown, key: unknown) => {
      const keys = keysOf(kind === "ConfigMap" ? manifests : secrets, kind, namespace, String(name));
      if (keys === undefined) problems.push(`${describeObject(object)}: ${kind} ${namespace}/${String(name)} does not exist`);
      else if (key !== undefined && !keys.has(String(key)))
        problems.push(`${describeObject(object)}: ${kind} ${namespace}/${String(name)} has no key ${String(key)}`);
    };
    for (const container of containersOf(podSpec)) {
      for (const from of list(container["envFrom"])) {
        if (from["configMapRef"] !== undefined) need("ConfigMap", obj(from["configMapRef"])["name"], undefined);
        if (from["secretRef"] !== undefined) need("Secret", obj(from["secretRef"])["name"], undefined);
      }
      for (const variable of list(container["env"])) {
        const valueFrom = obj(variable["valueFrom"]);
        if (valueFrom["configMapKeyRef"] !== undefined) need("ConfigMap", obj(valueFrom["configMapKeyRef"])["name"], obj(valueFrom["configMapKeyRef"])["key"]);
        if (valueFrom["secretKeyRef"] !== undefined) need("Secret", obj(valueFrom["secretKeyRef"])["name"], obj(valueFrom["secretKeyRef"])["key"]);
      }
    }
    for (const volume of list(podSpec["volumes"])) {
      if (volume["configMap"] !== undefined) need("ConfigMap", obj(volume["configMap"])["name"], undefined);
      if (volume["secret"] !== undefined) {
        const secret = obj(volume["secret"]);
        need("Secret", secret["secretName"], undefined);
        for (const item of list(secret["items"])) need("Secret", secret["secretName"], item["key"]);
      }
    }
  }
  return problems;
}

/** The environment variable names a mesh service's container sets (env, and the keys of envFrom ConfigMaps). */
export function meshServiceEnvNames(manifests: readonly Manifest[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const service of MESH_SERVICES) {
    const deployment = find(manifests, "Deployment", "vexxy", service);
    const names = new Set<string>();
    for (const container of containersOf(podSpecOf(deployment ?? {}) ?? {})) {
      for (const variable of list(container["env"])) names.add(String(variable["name"]));
      for (const from of list(container["envFrom"])) {
        const configMap = find(manifests, "ConfigMap", "vexxy", String(obj(from["configMapRef"])["name"]));
        for (const key of Object.keys(obj(configMap?.["data"]))) names.add(key);
      }
    }
    result.set(service, names);
  }
  return result;
}
