CREATE TABLE "ingester_checkpoints" (
	"cluster_name" text NOT NULL,
	"scope" text NOT NULL,
	"resource_version" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ingester_checkpoints_cluster_name_scope_pk" PRIMARY KEY("cluster_name","scope")
);
--> statement-breakpoint
CREATE TABLE "k8s_events" (
	"created_at" timestamp with time zone NOT NULL,
	"event_id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"cluster_name" text NOT NULL,
	"uid" text NOT NULL,
	"global_uid" text NOT NULL,
	"namespace" text NOT NULL,
	"resource_kind" text NOT NULL,
	"resource_name" text NOT NULL,
	"involved_object_uid" text,
	"event_type" text NOT NULL,
	"reason" text,
	"message" text,
	"composition_id" uuid,
	"raw" jsonb NOT NULL,
	"resource_version" text NOT NULL,
	"seq" bigserial NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"first_seen" timestamp with time zone,
	"reporting_controller" text,
	"labels" jsonb,
	"inserted_at" timestamp with time zone DEFAULT now() NOT NULL
) PARTITION BY RANGE ("created_at");
--> statement-breakpoint
CREATE UNIQUE INDEX "k8s_events_version_key" ON "k8s_events" USING btree ("cluster_name","uid","resource_version","created_at");--> statement-breakpoint
CREATE INDEX "k8s_events_seq_idx" ON "k8s_events" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "k8s_events_created_at_idx" ON "k8s_events" USING btree ("created_at","seq");--> statement-breakpoint
CREATE INDEX "k8s_events_global_uid_idx" ON "k8s_events" USING btree ("global_uid","created_at","seq");--> statement-breakpoint
CREATE INDEX "k8s_events_namespace_idx" ON "k8s_events" USING btree ("namespace","created_at");--> statement-breakpoint
CREATE INDEX "k8s_events_composition_idx" ON "k8s_events" USING btree ("composition_id","created_at") WHERE "k8s_events"."composition_id" is not null;--> statement-breakpoint
CREATE INDEX "k8s_events_involved_object_idx" ON "k8s_events" USING btree ("involved_object_uid","created_at") WHERE "k8s_events"."involved_object_uid" is not null;--> statement-breakpoint
-- Hand-written below this line (drizzle-kit cannot express partitions or triggers); see docs/decisions/001-partitioning.md.
CREATE FUNCTION "k8s_events_partition_name"(day date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'k8s_events_' || to_char(day, 'YYYY_MM_DD')
$$;
--> statement-breakpoint
-- Creates the partition for one UTC day unless it exists. Bounds are written with an explicit
-- +00 offset so the session TimeZone cannot shift them. Returns true when it created one.
CREATE FUNCTION "ensure_k8s_events_partition"(day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  part text := k8s_events_partition_name(day);
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN false;
  END IF;
  -- Serialises concurrent creators (two ingesters, or maintenance and an on-demand create); the
  -- loser then fails on the name, which is the one reliable check after waiting.
  PERFORM pg_advisory_xact_lock(hashtext('k8s_events_partitions'));
  EXECUTE format(
    'CREATE TABLE %I PARTITION OF k8s_events FOR VALUES FROM (%L) TO (%L)',
    part,
    to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
    to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00'
  );
  RETURN true;
EXCEPTION WHEN duplicate_table THEN
  RETURN false;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "ensure_k8s_events_partitions"(from_day date, days integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  created integer := 0;
BEGIN
  FOR i IN 0 .. days - 1 LOOP
    IF ensure_k8s_events_partition(from_day + i) THEN
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END
$$;
--> statement-breakpoint
-- Seq order must equal commit order so that a reader following `seq > cursor` never skips a row
-- that commits late (docs/decisions/002-commit-ordered-seq.md). Every insert statement into the
-- parent takes this lock before any seq is drawn; it is held until the transaction ends.
CREATE FUNCTION "k8s_events_lock_seq"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('k8s_events_seq'));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "k8s_events_lock_seq" BEFORE INSERT ON "k8s_events"
  FOR EACH STATEMENT EXECUTE FUNCTION k8s_events_lock_seq();
--> statement-breakpoint
-- One small wake-up per insert statement (never the row: payloads over 8000 bytes fail the insert).
CREATE FUNCTION "k8s_events_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  last_seq bigint;
BEGIN
  SELECT count(*), max(seq) INTO n, last_seq FROM new_rows;
  IF n > 0 THEN
    PERFORM pg_notify('events', json_build_object('rows', n, 'max_seq', last_seq)::text);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "k8s_events_notify" AFTER INSERT ON "k8s_events"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION k8s_events_notify();
--> statement-breakpoint
SELECT ensure_k8s_events_partitions((now() AT TIME ZONE 'UTC')::date - 1, 5);
