import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { errorResponse } from "../errors";

export interface RateLimitRule {
  /** Requests allowed per window. */
  limit: number;
  /** Window, in @upstash/ratelimit's Duration syntax: "10 s", "1 m". */
  window: `${number} ${"ms" | "s" | "m" | "h" | "d"}`;
  prefix: string;
}

export type RateLimitDecision =
  | { limited: boolean; limit: number; remaining: number; reset: number; degraded: false }
  | { limited: false; degraded: true };

/**
 * Sliding-window limit per identifier. Redis down or absent → the request is allowed and the
 * degradation is logged: a limiter outage must not become an API outage.
 */
export async function checkRateLimit(
  redis: Redis | null,
  rule: RateLimitRule,
  identifier: string,
  onDegraded: (reason: string) => void,
): Promise<RateLimitDecision> {
  if (!redis) {
    onDegraded("redis not configured");
    return { limited: false, degraded: true };
  }
  const limiter = new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(rule.limit, rule.window),
    prefix: rule.prefix,
    analytics: false,
    // Keep an Upstash hiccup from holding the request: allow after 1 s.
    timeout: 1000,
    ephemeralCache: false,
  });
  try {
    const r = await limiter.limit(identifier);
    if (r.reason === "timeout") onDegraded("timeout");
    return { limited: !r.success, limit: r.limit, remaining: r.remaining, reset: r.reset, degraded: false };
  } catch (err) {
    onDegraded((err as Error)?.name ?? "Error");
    return { limited: false, degraded: true };
  }
}

/**
 * Middleware: limit by authenticated user, else by client IP. Answers 429 `rate_limited`. The rule
 * may depend on the request (e.g. a limit from env).
 */
export function rateLimit<E extends AppEnv>(
  ruleOf: RateLimitRule | ((c: Context<E>) => RateLimitRule),
): MiddlewareHandler<E> {
  return async (c, next) => {
    const rule = typeof ruleOf === "function" ? ruleOf(c) : ruleOf;
    const { redis, logger } = c.get("services");
    const id =
      c.get("auth")?.userId ??
      c.req.header("cf-connecting-ip") ??
      c.req.header("x-forwarded-for") ??
      "anonymous";
    const d = await checkRateLimit(redis, rule, id, (reason) =>
      logger.warn("ratelimit_degraded", { reason, prefix: rule.prefix }),
    );
    if (!d.degraded) {
      c.header("RateLimit-Limit", String(d.limit));
      c.header("RateLimit-Remaining", String(Math.max(0, d.remaining)));
      if (d.limited) {
        c.header("Retry-After", String(Math.max(1, Math.ceil((d.reset - Date.now()) / 1000))));
        return errorResponse(c, "rate_limited", "Too many requests");
      }
    }
    await next();
  };
}
