CREATE TABLE "legacy_import_state" (
	"source" text PRIMARY KEY NOT NULL,
	"partition" text,
	"last_global_uid" text,
	"last_resource_version" text,
	"rows_read" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Hand-written below this line (docs/decisions/011-own-schema.md). Runs with search_path set to
-- the configured schema only (DB_SCHEMA, default events_stack), so current_schema() is where our
-- objects live.
--
-- 1. A database created before this migration holds our objects in `public`. Move them (table,
--    partitions with their indexes, the seq sequence it owns, triggers, checkpoints, functions)
--    into our schema, rows untouched. A `public.k8s_events` without our `seq` column is deviser's
--    and is left alone.
DO $$
DECLARE
  target text := current_schema();
  part record;
BEGIN
  IF target IS NULL OR target = 'public'
     OR to_regclass(format('%I.k8s_events', target)) IS NOT NULL
     OR NOT EXISTS (
       SELECT 1 FROM pg_attribute
       WHERE attrelid = to_regclass('public.k8s_events') AND attname = 'seq' AND NOT attisdropped) THEN
    RETURN;
  END IF;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.k8s_events'::regclass
  LOOP
    EXECUTE format('ALTER TABLE public.%I SET SCHEMA %I', part.relname, target);
  END LOOP;
  EXECUTE format('ALTER TABLE public.k8s_events SET SCHEMA %I', target);
  IF to_regclass('public.ingester_checkpoints') IS NOT NULL THEN
    EXECUTE format('ALTER TABLE public.ingester_checkpoints SET SCHEMA %I', target);
  END IF;
  EXECUTE format('ALTER FUNCTION public.k8s_events_partition_name(date) SET SCHEMA %I', target);
  EXECUTE format('ALTER FUNCTION public.ensure_k8s_events_partition(date) SET SCHEMA %I', target);
  EXECUTE format('ALTER FUNCTION public.ensure_k8s_events_partitions(date, integer) SET SCHEMA %I', target);
  EXECUTE format('ALTER FUNCTION public.k8s_events_lock_seq() SET SCHEMA %I', target);
  EXECUTE format('ALTER FUNCTION public.k8s_events_notify() SET SCHEMA %I', target);
END
$$;
--> statement-breakpoint
-- 2. deviser drops and re-creates a trigger named k8s_events_notify at every start; ours gets a
--    name deviser never uses.
ALTER TRIGGER "k8s_events_notify" ON "k8s_events" RENAME TO "k8s_events_notify_statement";
--> statement-breakpoint
-- 3. deviser's trigger notifies channel `events` once per row with {"event_id","global_uid"}, which
--    Krateo's Go presenter parses. Ours wakes listeners on a channel named after our schema, so
--    neither side receives the other's payloads.
CREATE OR REPLACE FUNCTION "k8s_events_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  last_seq bigint;
BEGIN
  SELECT count(*), max(seq) INTO n, last_seq FROM new_rows;
  IF n > 0 THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA, json_build_object('rows', n, 'max_seq', last_seq)::text);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- 4. The partition functions resolve names through search_path; pin it to our schema so a caller
--    with another search_path (psql, deviser's role) can never create or find partitions elsewhere.
ALTER FUNCTION "k8s_events_partition_name"(date) SET search_path FROM CURRENT;
--> statement-breakpoint
ALTER FUNCTION "ensure_k8s_events_partition"(date) SET search_path FROM CURRENT;
--> statement-breakpoint
ALTER FUNCTION "ensure_k8s_events_partitions"(date, integer) SET search_path FROM CURRENT;
