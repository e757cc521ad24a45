-- rolegate's durable model. Every row carries its organization, and every reference between rows goes
-- through a composite key (org_id, id), so no row can point into another organization.

CREATE TABLE organizations (
  id             uuid PRIMARY KEY,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  catalog_name   text NOT NULL,
  -- The catalog document the organization was created from (YAML), so every replica compiles the same.
  catalog_source text NOT NULL,
  -- Bumped by every write, in the same transaction; the consistency token clients see.
  version        bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- The location tree. parent_id NULL = directly under the organization root. `path` is the
-- materialized path from the top down to the location itself: ancestors in one index lookup.
CREATE TABLE locations (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  id         uuid NOT NULL,
  parent_id  uuid,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  path       uuid[] NOT NULL CHECK (path[array_length(path, 1)] = id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, parent_id) REFERENCES locations (org_id, id)
);
CREATE INDEX locations_path ON locations USING gin (path);
CREATE INDEX locations_parent ON locations (org_id, parent_id);

CREATE TABLE users (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  id         uuid NOT NULL,
  email      text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  name       text CHECK (length(name) <= 200),
  flags      text[] NOT NULL DEFAULT '{}',
  locked     boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
-- A deleted user keeps their address: they can be restored.
CREATE UNIQUE INDEX users_email ON users (org_id, lower(email));

CREATE TABLE teams (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  id         uuid NOT NULL,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX teams_name ON teams (org_id, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE team_members (
  org_id  uuid NOT NULL,
  team_id uuid NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (org_id, team_id, user_id),
  FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id),
  FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);
CREATE INDEX team_members_user ON team_members (org_id, user_id);

-- Custom roles. Built-in roles live in the catalog and are never rows.
CREATE TABLE roles (
  org_id      uuid NOT NULL REFERENCES organizations (id),
  key         text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]*$' AND length(key) <= 100),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text,
  kind        text NOT NULL CHECK (kind IN ('org', 'location', 'team')),
  inherits    text[] NOT NULL DEFAULT '{}',
  grants      text[] NOT NULL DEFAULT '{}',
  deleted_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, key)
);

-- A role given to a user at the organization root (no location, no team), a location, or a team.
CREATE TABLE assignments (
  org_id      uuid NOT NULL,
  id          uuid NOT NULL,
  user_id     uuid NOT NULL,
  role_key    text NOT NULL,
  location_id uuid,
  team_id     uuid,
  person_id   text,
  group_ids   text[] NOT NULL DEFAULT '{}',
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id),
  FOREIGN KEY (org_id, location_id) REFERENCES locations (org_id, id),
  FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id),
  CHECK (location_id IS NULL OR team_id IS NULL)
);
CREATE INDEX assignments_user ON assignments (org_id, user_id);
CREATE INDEX assignments_location ON assignments (org_id, location_id) WHERE location_id IS NOT NULL;
CREATE INDEX assignments_team ON assignments (org_id, team_id) WHERE team_id IS NOT NULL;
CREATE INDEX assignments_role ON assignments (org_id, role_key);

CREATE TABLE tool_policies (
  org_id uuid NOT NULL REFERENCES organizations (id),
  tool   text NOT NULL,
  mode   text NOT NULL CHECK (mode IN ('auto', 'require_approval', 'deny')),
  PRIMARY KEY (org_id, tool)
);

-- One entry per write, seq = the version that write produced; each entry's hash covers its content
-- and the previous entry's hash, so an edit, a deletion or a reordering breaks the chain.
CREATE TABLE audit_log (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  seq        bigint NOT NULL CHECK (seq > 0),
  actor      text NOT NULL,
  action     text NOT NULL,
  target     text NOT NULL,
  before     jsonb,
  after      jsonb,
  request_id text,
  at         timestamptz NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL,
  PRIMARY KEY (org_id, seq)
);
