/** Mounts the reachability service's RPC handlers on a router. */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ReachabilityService } from "@vexxy/proto";

/** The routes: ReachabilityService. */
export function routes(handlers: ServiceImpl<typeof ReachabilityService>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ReachabilityService, handlers);
  };
}
