/** Mounts the VEX service's RPC handlers. */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { VexService } from "@vexxy/proto";

/** The routes of the VEX service. */
export function routes(handlers: ServiceImpl<typeof VexService>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(VexService, handlers);
  };
}
