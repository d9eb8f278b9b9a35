/** Mounts the sandbox service's RPC handlers on a router. */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { SandboxService } from "@vexxy/proto";

/** The routes: SandboxService. */
export function routes(handlers: ServiceImpl<typeof SandboxService>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(SandboxService, handlers);
  };
}
