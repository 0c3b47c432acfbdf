/**
 * Points @neondatabase/serverless at a local endpoint, for Node code and tests (the worker sets
 * the same neonConfig fields from its env instead).
 */
import { neonConfig } from "@neondatabase/serverless";
import { WebSocket } from "ws";

export function configureNeonForLocal(endpoint: { sqlUrl: string; wsProxy: string }): void {
  neonConfig.fetchEndpoint = endpoint.sqlUrl;
  // A string wsProxy becomes ws://<wsProxy>?address=<host>:<port>; the endpoint ignores the address.
  neonConfig.wsProxy = endpoint.wsProxy;
  neonConfig.useSecureWebSocket = false;
  neonConfig.forceDisablePgSSL = true;
  neonConfig.pipelineTLS = false;
  // The endpoint answers AuthenticationCleartextPassword like Neon, so the driver's pipelined
  // startup + password (its default) works unchanged.
  neonConfig.pipelineConnect = "password";
  neonConfig.webSocketConstructor = WebSocket;
}
