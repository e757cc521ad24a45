-- The input limits the gateway enforces before any work (src/api/limits/input-limits.ts, INPUT_LIMITS),
-- held by the store too, so no path around the API (the CLI, a script, a bug) stores more. Lengths are
-- characters, as length() counts them. Existing limits of 001_init.sql (names 200, email 320, role
-- keys 100) stand as they are.

-- The longest item of a text array (0 for an empty one): CHECK constraints cannot hold subqueries.
CREATE FUNCTION rolegate_max_item_length(items text[]) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(max(length(item)), 0) FROM unnest(items) AS item $$;

ALTER TABLE assignments
  ADD CONSTRAINT assignments_role_key_length CHECK (length(role_key) <= 100),
  ADD CONSTRAINT assignments_person_id_length CHECK (length(person_id) <= 128),
  ADD CONSTRAINT assignments_group_ids_count CHECK (cardinality(group_ids) <= 100),
  ADD CONSTRAINT assignments_group_ids_length CHECK (rolegate_max_item_length(group_ids) <= 128);

ALTER TABLE roles
  ADD CONSTRAINT roles_description_length CHECK (length(description) <= 2000),
  ADD CONSTRAINT roles_grants_count CHECK (cardinality(grants) <= 500),
  ADD CONSTRAINT roles_grants_length CHECK (rolegate_max_item_length(grants) <= 200),
  ADD CONSTRAINT roles_inherits_count CHECK (cardinality(inherits) <= 500),
  ADD CONSTRAINT roles_inherits_length CHECK (rolegate_max_item_length(inherits) <= 100);

ALTER TABLE users
  ADD CONSTRAINT users_flags_count CHECK (cardinality(flags) <= 100),
  ADD CONSTRAINT users_flags_length CHECK (rolegate_max_item_length(flags) <= 100);

ALTER TABLE tool_policies
  ADD CONSTRAINT tool_policies_tool_length CHECK (length(tool) <= 100);
