/**
 * Auth for in-process orchestrator tests: a real ES256 dev key and JWKS file in the test's temp
 * dir (the orchestrator verifies tokens exactly as in production), the orchestrator's auth
 * config pointing at them, and a client interceptor carrying a token.
 */
import { join } from "node:path";
import { bearerInterceptor, createDevCredentials, DEV_AUDIENCE, DEV_ISSUER, type DevCredentials } from "@vexxy/auth";
import type { OrchestratorAuthConfig } from "../../src/index.js";

export interface TestAuth {
  readonly auth: OrchestratorAuthConfig;
  readonly credentials: DevCredentials;
  /** Client interceptor with the dev token (organization "dev", tier "ultimate"). */
  readonly devAuth: ReturnType<typeof bearerInterceptor>;
}

/** Creates dev credentials under dir/auth and the orchestrator auth config that accepts them. */
export async function testAuth(dir: string, overrides: Partial<Omit<OrchestratorAuthConfig, "jwt">> = {}): Promise<TestAuth> {
  const credentials = await createDevCredentials(join(dir, "auth"));
  const auth: OrchestratorAuthConfig = {
    jwt: {
      keys: { kind: "file", path: credentials.jwksFile },
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      algorithms: ["ES256", "RS256", "EdDSA"],
      clockToleranceSeconds: 30,
      organizationClaim: "org_id",
      tierClaim: "tier",
    },
    runtimeAnalysisTiers: ["ultimate"],
    monthlyLimits: { ultimate: 200 },
    defaultMonthlyLimit: 50,
    ...overrides,
  };
  return { auth, credentials, devAuth: bearerInterceptor(credentials.devToken) };
}
