-- Foundation: extensions, the app role, schemas and the helper functions every later file uses.
-- Runs as the owner role (fisioflow_owner locally; the database owner on Neon). All three
-- extensions are "trusted", so a database owner without superuser may create them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS btree_gist;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS unaccent;
--> statement-breakpoint

-- The API connects as fisioflow_app: it owns nothing and only gets the grants in 0006, so Row
-- Level Security always applies to it. Locally (and on Neon) the role is created with a password
-- by the platform; creating it here only helps bare databases (needs CREATEROLE).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'fisioflow_app') THEN
    CREATE ROLE fisioflow_app NOLOGIN;
  END IF;
END
$$;
--> statement-breakpoint

-- PostgreSQL < 15 lets every role create objects in public; the app role must not.
DO $$
BEGIN
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'could not revoke CREATE on schema public (not its owner); check it by hand';
END
$$;
--> statement-breakpoint

-- app: functions the policies and indexes use. private: tables the app role may never touch
-- (cross-partition unique keys, the booking ledger); only SECURITY DEFINER triggers write them.
CREATE SCHEMA IF NOT EXISTS app;
--> statement-breakpoint
CREATE SCHEMA IF NOT EXISTS private;
--> statement-breakpoint
REVOKE ALL ON SCHEMA private FROM PUBLIC;
--> statement-breakpoint

-- The caller's identity, set per transaction by the API with set_config(..., true) as the first
-- statement of each HTTP batch (db/session.ts). Unset → NULL → every policy is false.
CREATE FUNCTION app.user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint
CREATE FUNCTION app.role() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(pg_catalog.current_setting('app.role', true), '') $$;
--> statement-breakpoint

-- unaccent() is only STABLE (its dictionary could change), so it cannot appear in an index
-- expression. This wrapper pins the dictionary and is declared IMMUTABLE on purpose.
CREATE FUNCTION app.f_unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
--> statement-breakpoint
CREATE FUNCTION app.normaliza(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT pg_catalog.lower(app.f_unaccent($1)) $$;
--> statement-breakpoint
-- The Portuguese full-text document of a paciente (GIN-indexed in 0004, used by the ?q= search).
CREATE FUNCTION app.paciente_busca_doc(nome text, email text) RETURNS tsvector
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT pg_catalog.to_tsvector('pg_catalog.portuguese'::regconfig,
         app.f_unaccent(coalesce(nome, '') || ' ' || coalesce(email, ''))) $$;
--> statement-breakpoint

CREATE FUNCTION app.touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END
$$;
