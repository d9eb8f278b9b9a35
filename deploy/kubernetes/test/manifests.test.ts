/**
 * The Kubernetes manifests, checked without a cluster: every object against the official
 * Kubernetes OpenAPI definition of its kind (strictly: unknown fields refused), then our own
 * rules (pod security, images, RBAC scope, isolation, references, the configuration the
 * containers set), and the README's configuration table against the variables the code reads.
 * With KUBECONFIG set, one more test sends every object to that cluster as a server-side dry run.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KUBERNETES_OPENAPI_VERSION, KubernetesSchema, UnknownKindError } from "./kubernetes-schema.js";
import { baseManifests, baseYamlFiles, exampleSecrets, kustomizationResources, type Manifest } from "./load-manifests.js";
import {
  checkImages,
  checkIsolation,
  checkMeshServices,
  checkNamespaces,
  checkPodSecurity,
  checkReferences,
  checkSandboxRbac,
  containersOf,
  describeObject,
  MESH_SERVICES,
  meshServiceEnvNames,
  podSpecOf,
} from "./policy-checks.js";
import { documentedVariables, REPO_ROOT, variablesReadByCode } from "./config-reference.js";

type Obj = Record<string, unknown>;

function clone(manifests: readonly Manifest[]): Manifest[] {
  return manifests.map((m) => ({ file: m.file, object: structuredClone(m.object) }));
}

function objectNamed(manifests: readonly Manifest[], kind: string, name: string): Obj {
  const found = manifests.find((m) => m.object["kind"] === kind && (m.object["metadata"] as Obj)["name"] === name);
  assert.ok(found, `${kind} ${name} not found`);
  return found.object;
}

function firstContainer(object: Obj): Obj {
  const container = containersOf(podSpecOf(object) ?? {})[0];
  assert.ok(container);
  return container;
}

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  const manifests = baseManifests();
  const secrets = exampleSecrets();
  let schema: KubernetesSchema;

  before(function () {
    this.timeout(60_000);
    schema = new KubernetesSchema();
  });

  it("kustomization.yaml lists every YAML file of the base, each once", () => {
    const resources = kustomizationResources();
    assert.deepEqual([...resources].sort(), baseYamlFiles());
    assert.equal(new Set(resources).size, resources.length);
  });

  it(`every object of the base and every example Secret is valid against the official Kubernetes ${KUBERNETES_OPENAPI_VERSION} OpenAPI definition of its kind, unknown fields refused`, function () {
    this.timeout(60_000);
    const problems: string[] = [];
    for (const { file, object } of [...manifests, ...secrets]) {
      for (const p of schema.validate(object)) problems.push(`${file}: ${describeObject(object)} at ${p.path}: ${p.message}`);
    }
    assert.deepEqual(problems, []);
    const kinds = new Set(manifests.map((m) => String(m.object["kind"])));
    for (const kind of ["Deployment", "StatefulSet", "DaemonSet", "Service", "PodDisruptionBudget", "NetworkPolicy", "RuntimeClass", "Role", "RoleBinding"]) {
      assert.ok(kinds.has(kind), `no ${kind} in the base`);
    }
  });

  it("the schema check refuses a misspelt field, a value of the wrong type, a missing required field and a kind the API does not serve", () => {
    const deployment = structuredClone(objectNamed(manifests, "Deployment", "orchestrator"));
    const spec = deployment["spec"] as Obj;
    spec["replica"] = 2;
    spec["replicas"] = "two";
    delete spec["selector"];
    const container = firstContainer(deployment);
    (container["securityContext"] as Obj)["readOnlyRootFileSystem"] = true;
    const problems = schema.validate(deployment).map((p) => `${p.path} ${p.message}`);
    assert.ok(problems.includes('/spec unknown field "replica"'), problems.join("\n"));
    assert.ok(
      problems.some((p) => p.startsWith("/spec/replicas ")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.startsWith("/spec ") && p.includes("selector")),
      problems.join("\n"),
    );
    assert.ok(problems.includes('/spec/template/spec/containers/0/securityContext unknown field "readOnlyRootFileSystem"'), problems.join("\n"));
    assert.throws(() => schema.validate({ apiVersion: "apps/v1beta1", kind: "Deployment", metadata: { name: "old" } }), UnknownKindError);
  });

  it("the five services run 2 replicas each, probed over gRPC health on their port, behind a Service and a PodDisruptionBudget", () => {
    assert.deepEqual(checkMeshServices(manifests), []);
    const broken = clone(manifests);
    const vex = objectNamed(broken, "Deployment", "vex");
    (vex["spec"] as Obj)["replicas"] = 1;
    delete firstContainer(vex)["readinessProbe"];
    assert.deepEqual(checkMeshServices(broken), [
      "Deployment vexxy/vex: replicas is not 2",
      "Deployment vexxy/vex: readinessProbe is not a grpc probe on port 50055",
    ]);
  });

  it("every pod but Tracee's runs as non-root with a read-only root filesystem, every capability dropped, no privilege escalation, RuntimeDefault seccomp and CPU and memory limits", () => {
    assert.deepEqual(checkPodSecurity(manifests), []);
    const broken = clone(manifests);
    const postgres = objectNamed(broken, "StatefulSet", "postgres");
    const context = firstContainer(postgres)["securityContext"] as Obj;
    context["readOnlyRootFilesystem"] = false;
    context["capabilities"] = { drop: ["ALL"], add: ["NET_ADMIN"] };
    delete (firstContainer(postgres)["resources"] as Obj)["limits"];
    assert.deepEqual(checkPodSecurity(broken), [
      "StatefulSet vexxy/postgres: container postgres has no cpu limits",
      "StatefulSet vexxy/postgres: container postgres has no memory limits",
      "StatefulSet vexxy/postgres: container postgres: readOnlyRootFilesystem is not true",
      "StatefulSet vexxy/postgres: container postgres: adds capabilities",
    ]);
  });

  it("Tracee runs privileged only in vexxy-tracee, with hostPID, on sandbox nodes, its gRPC port reachable from the profiler only", () => {
    const privileged = manifests.filter((m) =>
      containersOf(podSpecOf(m.object) ?? {}).some((c) => (c["securityContext"] as Obj | undefined)?.["privileged"] === true),
    );
    assert.deepEqual(
      privileged.map((m) => describeObject(m.object)),
      ["DaemonSet vexxy-tracee/tracee"],
    );
    const tracee = objectNamed(manifests, "DaemonSet", "tracee");
    const podSpec = podSpecOf(tracee) ?? {};
    assert.equal(podSpec["hostPID"], true);
    assert.deepEqual(podSpec["nodeSelector"], { "vexxy.dev/sandbox-node": "true" });
    assert.ok((firstContainer(tracee)["args"] as string[]).includes("--grpc-listen-addr=tcp:4466"));
    const policy = objectNamed(manifests, "NetworkPolicy", "tracee");
    assert.deepEqual((policy["spec"] as Obj)["ingress"], [
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "vexxy" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "profiler" } },
          },
        ],
        ports: [{ port: 4466, protocol: "TCP" }],
      },
    ]);
    const namespaces = manifests.filter((m) => m.object["kind"] === "Namespace").map((m) => m.object["metadata"] as Obj);
    const enforce = Object.fromEntries(namespaces.map((n) => [n["name"], (n["labels"] as Obj)["pod-security.kubernetes.io/enforce"]]));
    assert.deepEqual(enforce, { vexxy: "restricted", "vexxy-sandbox": "baseline", "vexxy-tracee": "privileged" });
  });

  it("every image is pinned by digest or a release tag, none by latest or no tag", () => {
    assert.deepEqual(checkImages(manifests), []);
    const broken = clone(manifests);
    firstContainer(objectNamed(broken, "Deployment", "sandbox"))["image"] = "ghcr.io/vexxy/sandbox:latest";
    firstContainer(objectNamed(broken, "StatefulSet", "nats"))["image"] = "nats";
    firstContainer(objectNamed(broken, "StatefulSet", "minio"))["image"] = `quay.io/minio/minio@sha256:${"a".repeat(64)}`;
    assert.deepEqual(checkImages(broken), [
      "StatefulSet vexxy/nats: container nats image nats is pinned neither by digest nor by a release tag",
      "Deployment vexxy/sandbox: container sandbox image ghcr.io/vexxy/sandbox:latest uses the latest tag",
    ]);
  });

  it("the sandbox service's ServiceAccount may create and delete Jobs and Pods in vexxy-sandbox only, and no cluster-wide RBAC exists", () => {
    assert.deepEqual(checkSandboxRbac(manifests), []);
    assert.deepEqual(checkNamespaces(manifests), []);
    const broken = clone(manifests);
    const binding = objectNamed(broken, "RoleBinding", "sandbox-runner");
    (binding["metadata"] as Obj)["namespace"] = "vexxy";
    const role = objectNamed(broken, "Role", "sandbox-runner");
    (role["rules"] as Obj[]).push({ apiGroups: [""], resources: ["secrets"], verbs: ["*"] });
    broken.push({ file: "extra", object: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "sandbox-admin" } } });
    assert.deepEqual(checkSandboxRbac(broken), [
      'Role vexxy-sandbox/sandbox-runner: grants verbs "*"',
      "RoleBinding vexxy/sandbox-runner: binds the sandbox ServiceAccount outside vexxy-sandbox",
    ]);
    assert.deepEqual(checkNamespaces(broken), ["ClusterRoleBinding sandbox-admin: cluster-wide RBAC is not allowed"]);
  });

  it("the sandbox namespace denies every packet in and out, the mesh namespace denies by default, and RuntimeClass gvisor uses runsc", () => {
    assert.deepEqual(checkIsolation(manifests), []);
    const broken = clone(manifests);
    broken.push({
      file: "extra",
      object: {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "allow-dns", namespace: "vexxy-sandbox" },
        spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ port: 53, protocol: "UDP" }] }] },
      },
    });
    objectNamed(broken, "RuntimeClass", "gvisor")["handler"] = "runc";
    assert.deepEqual(checkIsolation(broken), [
      "NetworkPolicy vexxy-sandbox/allow-dns: allows traffic in the sandbox namespace",
      "RuntimeClass gvisor: handler is runc, not runsc",
    ]);
  });

  it("every ConfigMap and Secret a pod reads exists with the key it reads (Secrets as in secrets.example.yaml)", () => {
    assert.deepEqual(checkReferences(manifests, secrets), []);
    const withoutSigningKey = secrets.filter((s) => (s.object["metadata"] as Obj)["name"] !== "vexxy-vex-signing-key");
    assert.deepEqual(checkReferences(manifests, withoutSigningKey), [
      "Deployment vexxy/vex: Secret vexxy/vexxy-vex-signing-key does not exist",
      "Deployment vexxy/vex: Secret vexxy/vexxy-vex-signing-key does not exist",
    ]);
  });

  it("every variable a mesh service's container sets is in the README's configuration table", () => {
    const documented = new Set(documentedVariables(readFileSync(join(REPO_ROOT, "README.md"), "utf8")).map((v) => v.name));
    const undocumented: string[] = [];
    for (const [service, names] of meshServiceEnvNames(manifests)) {
      assert.ok(names.has("DATABASE_URL") && names.has("PORT"), `${service} sets no DATABASE_URL or PORT`);
      for (const name of names) if (!documented.has(name)) undocumented.push(`${service}: ${name}`);
    }
    assert.deepEqual(undocumented, []);
    assert.equal(meshServiceEnvNames(manifests).size, MESH_SERVICES.length);
  });
});

describe("Production configuration reference (README)", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

  it("lists every environment variable the services and their libraries read", () => {
    const read = variablesReadByCode();
    assert.ok(read.has("DATABASE_URL") && read.has("SANDBOX_WORK_DIR") && read.has("VEX_SIGNING_KEY_FILE"), "the config sources were not found");
    const documented = new Set(documentedVariables(readme).map((v) => v.name));
    const missing = [...read.entries()].filter(([name]) => !documented.has(name)).map(([name, files]) => `${name} (read in ${files.join(", ")})`);
    assert.deepEqual(missing, []);
  });

  it("lists no variable that no code reads, unless its row says it is planned", () => {
    const read = variablesReadByCode();
    const stale = documentedVariables(readme)
      .filter((v) => !v.planned && !read.has(v.name))
      .map((v) => v.name);
    assert.deepEqual(stale, []);
  });
});

// Registered only with a cluster: without one there is nothing to run, and a test that passes
// without running would count as evidence it is not.
if (process.env["KUBECONFIG"] !== undefined && process.env["KUBECONFIG"] !== "") {
  describe("Kubernetes manifests against the cluster in KUBECONFIG", () => {
    it("the API server accepts every object as a server-side dry-run apply", async function () {
      this.timeout(300_000);
      const { KubeConfig, KubernetesObjectApi, PatchStrategy } = await import("@kubernetes/client-node");
      const config = new KubeConfig();
      config.loadFromDefault();
      const api = KubernetesObjectApi.makeApiClient(config);
      const manifests = [...baseManifests(), ...exampleSecrets()];
      // A dry-run Namespace is not created, so the namespaced objects need the real ones: the
      // test creates those missing and deletes only what it created.
      const created: Obj[] = [];
      try {
        for (const { object } of manifests.filter((m) => m.object["kind"] === "Namespace")) {
          const header = { apiVersion: "v1", kind: "Namespace", metadata: { name: (object["metadata"] as Obj)["name"] as string } };
          try {
            await api.read(header);
          } catch {
            await api.create(object);
            created.push(object);
          }
        }
        const refused: string[] = [];
        for (const { object } of manifests) {
          try {
            await api.patch(object, undefined, "All", "vexxy-manifests-test", true, PatchStrategy.ServerSideApply);
          } catch (err) {
            refused.push(`${describeObject(object)}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        assert.deepEqual(refused, []);
      } finally {
        for (const namespace of created) await api.delete(namespace).catch(() => undefined);
      }
    });
  });
}
