-- An identity SQL cannot forge, and no SECURITY DEFINER function anyone may call.
--
-- Until now app.user_id() / app.role() returned the settings app.user_id / app.role, which any
-- statement the app role runs can change (set_config, SET LOCAL, a function): one SQL injection
-- anywhere in the API would have lifted RLS for the rest of its transaction. From here they return
-- the identity of a signed token in the setting app.identity, and NULL unless it verifies:
--
--   v1.<kid>.<user uuid | empty>.<role>.<expires, unix seconds>.<HMAC-SHA256 hex of the rest>
--
-- The key is in private.chaves_identidade, which only the owner can read (so only its SECURITY
-- DEFINER code, app.identidade(), verifies); the worker holds the same key as a secret
-- (db/identity.ts) and signs each request's token. A token lives two minutes; changing any field
-- breaks the signature; the plain settings app.user_id / app.role no longer mean anything.
-- The owner's maintenance work gets its 'system' token from private.token_sistema(), signed with
-- the database's own key 'db' (created here at random), which the app role cannot call.
-- The cost is one HMAC per statement, not per row: the policies below call the functions through
-- a scalar sub-select, which PostgreSQL evaluates once per statement (an InitPlan).

CREATE TABLE private.chaves_identidade (
  kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,32}$'),
  -- HMAC's inner and outer padded keys (RFC 2104), so a verification is two sha256 calls.
  ipad bytea NOT NULL CHECK (length(ipad) = 64),
  opad bytea NOT NULL CHECK (length(opad) = 64),
  criada_em timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
REVOKE ALL ON private.chaves_identidade FROM PUBLIC;
--> statement-breakpoint

-- Installs (or replaces) a key. Owner only: private is not usable by the app role.
CREATE FUNCTION private.instalar_chave_identidade(p_kid text, chave bytea) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k bytea;
  i integer;
  ipad bytea;
  opad bytea;
BEGIN
  IF length(chave) < 32 THEN
    RAISE EXCEPTION 'an identity key must be at least 32 bytes' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  k := CASE WHEN length(chave) > 64 THEN sha256(chave) ELSE chave END;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  ipad := k;
  opad := k;
  FOR i IN 0..63 LOOP
    ipad := set_byte(ipad, i, get_byte(k, i) # 54);  -- 0x36
    opad := set_byte(opad, i, get_byte(k, i) # 92);  -- 0x5c
  END LOOP;
  INSERT INTO private.chaves_identidade (kid, ipad, opad) VALUES (p_kid, ipad, opad)
    ON CONFLICT (kid) DO UPDATE SET ipad = excluded.ipad, opad = excluded.opad, criada_em = now();
END
$$;
--> statement-breakpoint
-- The database's own key, for the tokens it issues to the owner ('system'): 244 random bits
-- (gen_random_uuid() draws from pg_strong_random).
SELECT private.instalar_chave_identidade(
  'db', sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));
--> statement-breakpoint

-- The verified identity of the current transaction; NULLs when there is none or it is forged.
-- It runs once per statement for each policy that needs it, so it is kept lean: PL/pgSQL (its
-- key lookup is a cached plan; the same check as one SQL function took twice as long), no regular
-- expression, nothing cast before the signature proved the fields are ours.
CREATE FUNCTION app.identidade(OUT user_id uuid, OUT role text)
  LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p text[] := string_to_array(current_setting('app.identity', true), '.');
  k record;
BEGIN
  IF cardinality(p) IS DISTINCT FROM 6 OR p[1] <> 'v1' THEN
    RETURN;
  END IF;
  SELECT c.ipad, c.opad INTO k FROM private.chaves_identidade c WHERE c.kid = p[2];
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- Compared through a second hash: the time taken says nothing about how much matched.
  IF sha256(convert_to(encode(sha256(k.opad || sha256(k.ipad ||
       convert_to(array_to_string(p[1:5], '.'), 'UTF8'))), 'hex'), 'UTF8'))
     <> sha256(convert_to(p[6], 'UTF8')) THEN
    RETURN;
  END IF;
  IF p[5]::bigint NOT BETWEEN extract(epoch FROM now())::bigint AND extract(epoch FROM now())::bigint + 600 THEN
    RETURN;
  END IF;
  role := p[4];
  user_id := nullif(p[3], '')::uuid;
END
$$;
--> statement-breakpoint
-- Same signature and OIDs as before (every policy and function keeps pointing at them).
CREATE OR REPLACE FUNCTION app.user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (app.identidade()).user_id $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app.role() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (app.identidade()).role $$;
--> statement-breakpoint

-- Why a token does not verify, for app.entrar's error (once per request: clarity over speed).
CREATE FUNCTION private.motivo_recusa(token text) RETURNS text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  p text[] := string_to_array(token, '.');
  k record;
BEGIN
  IF token IS NULL OR token = '' THEN
    RETURN 'no identity token';
  END IF;
  IF cardinality(p) <> 6 OR p[1] <> 'v1' OR p[5] !~ '^[0-9]{1,12}$' OR p[6] !~ '^[0-9a-f]{64}$' THEN
    RETURN 'malformed identity token';
  END IF;
  SELECT c.ipad, c.opad INTO k FROM private.chaves_identidade c WHERE c.kid = p[2];
  IF NOT FOUND THEN
    RETURN format('unknown identity key id %L: install the key (npm run db:migrate with DB_IDENTITY_KEY set)', p[2]);
  END IF;
  IF encode(sha256(k.opad || sha256(k.ipad || convert_to(array_to_string(p[1:5], '.'), 'UTF8'))), 'hex') <> p[6] THEN
    RETURN 'bad identity signature (the worker''s DB_IDENTITY_KEY differs from the installed key)';
  END IF;
  RETURN 'identity token expired (or from a clock far off)';
END
$$;
--> statement-breakpoint

-- The API's first statement: SELECT app.entrar(set_config('app.identity', $1, true)). The setting
-- is made by set_config in the caller's own statement (a function with a SET clause would undo a
-- local setting at its exit); this checks it, so a wrong key or an expired token fails the
-- request loudly instead of showing it nothing.
CREATE FUNCTION app.entrar(token text) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF (app.identidade()).role IS NULL THEN
    RAISE EXCEPTION 'identity refused: %', private.motivo_recusa(token)
      USING ERRCODE = 'invalid_authorization_specification';
  END IF;
  RETURN true;
END
$$;
--> statement-breakpoint

-- A 'system' token for the owner's maintenance work: SELECT set_config('app.identity',
-- private.token_sistema(), true). Owner only (private is not usable by the app role).
CREATE FUNCTION private.token_sistema() RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  k record;
  payload text;
BEGIN
  SELECT c.ipad, c.opad INTO STRICT k FROM private.chaves_identidade c WHERE c.kid = 'db';
  payload := format('v1.db..system.%s', extract(epoch FROM now())::bigint + 600);
  RETURN payload || '.' || encode(sha256(k.opad || sha256(k.ipad || convert_to(payload, 'UTF8'))), 'hex');
END
$$;
--> statement-breakpoint

-- ------------------------------------------------------------------ policies: once per statement
-- Every policy's app.role() / app.user_id() becomes a scalar sub-select (an InitPlan: evaluated
-- once per statement, not per row). Same expressions otherwise, so the same visibility.
DO $$
DECLARE
  p record;
  fix text;
  using_ text;
  check_ text;
BEGIN
  FOR p IN
    SELECT pol.polname, c.oid::regclass AS tabela,
           pg_get_expr(pol.polqual, pol.polrelid) AS qual,
           pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check
      FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'audit', 'analytics', 'private', 'app')
  LOOP
    using_ := regexp_replace(regexp_replace(p.qual, 'app\.role\(\)', '(SELECT app.role())', 'g'),
                             'app\.user_id\(\)', '(SELECT app.user_id())', 'g');
    check_ := regexp_replace(regexp_replace(p.with_check, 'app\.role\(\)', '(SELECT app.role())', 'g'),
                             'app\.user_id\(\)', '(SELECT app.user_id())', 'g');
    fix := format('ALTER POLICY %I ON %s', p.polname, p.tabela);
    IF using_ IS NOT NULL THEN fix := fix || format(' USING (%s)', using_); END IF;
    IF check_ IS NOT NULL THEN fix := fix || format(' WITH CHECK (%s)', check_); END IF;
    IF using_ IS NOT NULL OR check_ IS NOT NULL THEN EXECUTE fix; END IF;
  END LOOP;
END
$$;
--> statement-breakpoint
-- Inlined into the policies that use it: its sub-selects become InitPlans there too.
CREATE OR REPLACE FUNCTION app.is_fisio_do_paciente(pid uuid) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT (SELECT app.role()) = 'fisioterapeuta'
       AND EXISTS (SELECT 1 FROM public.pacientes p
                    WHERE p.id = pid AND p.fisioterapeuta_id = (SELECT app.user_id()))
  $$;
--> statement-breakpoint

-- ------------------------------------------------------------------ audit: the verified actor
CREATE OR REPLACE FUNCTION audit.registrar_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  colunas text[];
  quem record;
BEGIN
  SELECT * INTO quem FROM app.identidade();
  SELECT array_agg(a.attname::text ORDER BY a.attname) INTO colunas
    FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  SELECT quem.user_id, quem.role, TG_ARGV[0], n.id, 'INSERT', colunas
    FROM novos n;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION audit.registrar_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  quem record;
BEGIN
  SELECT * INTO quem FROM app.identidade();
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao, colunas)
  SELECT quem.user_id, quem.role, TG_ARGV[0], d.id, 'UPDATE', d.colunas
    FROM (
      SELECT (nj ->> 'id')::uuid AS id,
             ARRAY(SELECT e.key FROM jsonb_each(nj) e
                    WHERE e.value IS DISTINCT FROM oj -> e.key AND e.key <> 'updated_at'
                    ORDER BY e.key) AS colunas
        FROM (SELECT to_jsonb(n) AS nj FROM novos n) nn
        JOIN (SELECT to_jsonb(o) AS oj FROM antigos o) oo ON oo.oj -> 'id' = nn.nj -> 'id'
    ) d
   WHERE cardinality(d.colunas) > 0; -- nothing but updated_at changed: not an event
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION audit.registrar_delete() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  quem record;
BEGIN
  SELECT * INTO quem FROM app.identidade();
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao)
  SELECT quem.user_id, quem.role, TG_ARGV[0], o.id, 'DELETE'
    FROM antigos o;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- Reads: only ids the caller can see are recorded (the lookups below pass the same policies as
-- the caller's own query: they depend on the verified identity, not on who runs them), so the app
-- role cannot write READ rows about records it never saw.
CREATE OR REPLACE FUNCTION audit.registrar_leitura(tabela text, ids uuid[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
  quem record;
  visiveis uuid[];
BEGIN
  IF tabela NOT IN ('pacientes', 'consultas', 'prontuarios', 'prescricoes') THEN
    RAISE EXCEPTION 'not an audited table: %', tabela USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO quem FROM app.identidade();
  IF quem.role IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format('SELECT coalesce(array_agg(t.id), ''{}'') FROM public.%I t WHERE t.id = ANY($1)', tabela)
    INTO visiveis USING ids;
  INSERT INTO audit.log (actor_id, actor_role, tabela, row_id, operacao)
  SELECT quem.user_id, quem.role, tabela, u.id, 'READ'
    FROM unnest(visiveis) AS u(id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
--> statement-breakpoint

-- ------------------------------------------------------------------ who may call what
-- No SECURITY DEFINER function is executable by PUBLIC: a trigger function that anyone may call
-- could be attached to a temp table of the caller's and write audit or index rows in the owner's
-- name. Triggers fire without an EXECUTE check, so the real triggers keep working. The app role
-- gets exactly what the API calls.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef AND n.nspname IN ('public', 'app', 'audit', 'analytics', 'private')
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM fisioflow_app', f.sig);
  END LOOP;
END
$$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.identidade(), app.entrar(text), app.buscar_pacientes(text, integer, double precision, uuid),
  app.anonimizar_paciente(uuid), audit.registrar_leitura(text, uuid[]) TO fisioflow_app;
--> statement-breakpoint
-- Functions the owner creates from now on are not executable by PUBLIC until granted.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app.user_id(), app.role(), app.is_fisio_do_paciente(uuid) TO fisioflow_app;
