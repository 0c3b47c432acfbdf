/**
 * Points @neondatabase/serverless at a local endpoint from Node (the local cloud, the tests and
 * the scripts): db/neon-config does the setting, the same as for the worker; Node adds `ws`.
 */
import { WebSocket } from "ws";
import { configureNeon } from "../../db/neon-config";

export function configureNeonForLocal(endpoint: { sqlUrl: string; wsProxy: string }): void {
  configureNeon({
    fetchEndpoint: endpoint.sqlUrl,
    wsProxy: endpoint.wsProxy,
    webSocketConstructor: WebSocket,
  });
}
