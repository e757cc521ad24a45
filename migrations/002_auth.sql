-- Service principals: API keys, stored as SHA-256 hashes of their secret, with scopes.
CREATE TABLE api_keys (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  id         uuid NOT NULL,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  secret_sha256 text NOT NULL,
  scopes     text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);

-- Secrets the gateway itself keeps, shared by every replica: the development token signing key.
CREATE TABLE gateway_secrets (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
