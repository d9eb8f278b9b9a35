/**
 * Credentials for tests: the internal secret every in-process service test configures, and a
 * client interceptor that sends it. Public-API tests mint JWTs with @vexxy/auth's
 * createDevCredentials (a real ES256 key and JWKS file in the test's temp dir).
 */
import { bearerInterceptor } from "@vexxy/auth";

/** The internal shared secret of in-process service tests (64 characters; not a production value). */
export const TEST_INTERNAL_TOKEN = "test-internal-secret-0123456789abcdef0123456789abcdef0123456789ab";

/** Client interceptor sending TEST_INTERNAL_TOKEN as bearer credential. */
export function testInternalAuth(): ReturnType<typeof bearerInterceptor> {
  return bearerInterceptor(TEST_INTERNAL_TOKEN);
}
