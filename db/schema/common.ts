import { pgSchema, timestamp } from "drizzle-orm/pg-core";

/** Derived, admin-only reporting tables (filled by jobs, never by the API). */
export const analytics = pgSchema("analytics");
/** Audit trail: written only by SECURITY DEFINER triggers, readable by admin only. */
export const audit = pgSchema("audit");

/** created_at / updated_at on every table; updated_at is kept current by a trigger (app.touch_updated_at). */
export const timestamps = {
  created_at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updated_at: timestamp({ withTimezone: true }).notNull().defaultNow(),
};
