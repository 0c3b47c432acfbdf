import http from "node:http";
import https from "node:https";

export interface DeliveryRequest {
  url: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface DeliveryResponse {
  status: number;
  header: Record<string, string[]>;
  body: Buffer;
}

/** Keep at most this much of a response: it is only reported (DLQ, callbacks), never replayed. */
const MAX_RESPONSE_BYTES = 1 << 20;

/**
 * One HTTP attempt. node:http rather than fetch: it sends any header as given and gives a plain
 * socket to destroy on abort. Resolves with the response (any status) or rejects on a network
 * error, timeout or abort.
 */
export function deliver(request: DeliveryRequest): Promise<DeliveryResponse> {
  const url = new URL(request.url);
  const transport = url.protocol === "https:" ? https : http;
  const sendsBody = request.method !== "GET" && request.method !== "HEAD";
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(
      url,
      {
        method: request.method,
        headers: sendsBody
          ? { ...request.headers, "Content-Length": String(request.body.length) }
          : request.headers,
        signal: request.signal,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
          size += chunk.length;
        });
        response.on("error", reject);
        response.on("end", () => {
          const header: Record<string, string[]> = {};
          for (let i = 0; i < response.rawHeaders.length; i += 2) {
            const name = response.rawHeaders[i]!;
            header[name] = [...(header[name] ?? []), response.rawHeaders[i + 1]!];
          }
          resolve({ status: response.statusCode ?? 0, header, body: Buffer.concat(chunks) });
        });
      },
    );
    // A deadline for the whole exchange (the socket `timeout` option only measures idleness).
    const deadline = setTimeout(
      () => outgoing.destroy(new Error(`timeout after ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    outgoing.on("close", () => clearTimeout(deadline));
    outgoing.on("error", reject);
    outgoing.end(sendsBody ? request.body : undefined);
  });
}
