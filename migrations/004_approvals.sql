-- Approvals (SPEC.md "Approvals"): requests that wait for a person's decision, the notifications that
-- tell approvers about them (an outbox, delivered by a worker), and where each organization and user
-- is reached on Slack and Teams.

-- The audit log counts its own entries. Until now every audit entry was a version bump; approval
-- transitions are audited but change no permission, so they must not make every cached permission
-- set of the organization stale. A permission write bumps both; an approval transition only this.
ALTER TABLE organizations ADD COLUMN audit_seq bigint;
UPDATE organizations SET audit_seq = version;
ALTER TABLE organizations ALTER COLUMN audit_seq SET NOT NULL;
ALTER TABLE organizations ALTER COLUMN audit_seq SET DEFAULT 0;
ALTER TABLE organizations ADD CONSTRAINT organizations_audit_seq CHECK (audit_seq >= version);

CREATE TABLE approval_requests (
  org_id         uuid NOT NULL REFERENCES organizations (id),
  id             uuid NOT NULL,
  -- The catalog's approval kind (`approvals:`), e.g. tool_use.
  kind           text NOT NULL CHECK (length(kind) <= 100),
  tool           text CHECK (length(tool) <= 100),
  -- The user the request is for: the agent acts on their behalf.
  subject_id     uuid NOT NULL,
  -- Who opened it: a user id or `apikey:<id>`.
  requested_by   text NOT NULL CHECK (length(requested_by) <= 100),
  summary        text NOT NULL CHECK (length(summary) BETWEEN 1 AND 2000),
  arguments      jsonb,
  -- SHA-256 (hex) of the canonical JSON of `arguments`: execution must present the same.
  arguments_hash text NOT NULL CHECK (arguments_hash ~ '^[0-9a-f]{64}$'),
  location_id    uuid,
  status         text NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'APPROVED', 'DISMISSED', 'EXPIRED', 'CANCELLED', 'EXECUTED')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  decided_by     uuid,
  decided_at     timestamptz,
  note           text CHECK (length(note) <= 2000),
  executed_at    timestamptz,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, subject_id) REFERENCES users (org_id, id),
  FOREIGN KEY (org_id, decided_by) REFERENCES users (org_id, id),
  FOREIGN KEY (org_id, location_id) REFERENCES locations (org_id, id),
  CHECK (expires_at > created_at)
);
CREATE INDEX approval_requests_list ON approval_requests (org_id, created_at DESC, id);
-- The expiry sweep: what is still open, by when it lapses.
CREATE INDEX approval_requests_open ON approval_requests (expires_at) WHERE status IN ('PENDING', 'APPROVED');
-- How many a requester has waiting (a bounded number each).
CREATE INDEX approval_requests_waiting ON approval_requests (org_id, requested_by) WHERE status = 'PENDING';

-- The outbox: written in the transaction that opens a request, delivered at least once by a worker.
-- A claim leases a row (`leased_until`) so exactly one replica sends it; a replica that dies mid-send
-- lets its lease lapse and another sends it again, with the same idempotency key.
CREATE TABLE notifications (
  org_id          uuid NOT NULL,
  id              uuid NOT NULL,
  request_id      uuid NOT NULL,
  channel         text NOT NULL CHECK (channel IN ('slack', 'teams')),
  recipient_id    uuid NOT NULL,
  -- Where it goes: the Slack member id or the Teams address, as it was when the request opened.
  address         text NOT NULL CHECK (length(address) BETWEEN 1 AND 320),
  idempotency_key text NOT NULL,
  status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  leased_until    timestamptz,
  last_error      text CHECK (length(last_error) <= 500),
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  UNIQUE (idempotency_key),
  FOREIGN KEY (org_id, request_id) REFERENCES approval_requests (org_id, id),
  FOREIGN KEY (org_id, recipient_id) REFERENCES users (org_id, id)
);
CREATE INDEX notifications_request ON notifications (org_id, request_id);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('PENDING', 'SENDING');

-- Per organization: how to reach Slack (a bot token) and Teams (an incoming webhook). The token is
-- never returned by the API, only whether it is set.
CREATE TABLE notification_settings (
  org_id            uuid PRIMARY KEY REFERENCES organizations (id),
  slack_bot_token   text CHECK (length(slack_bot_token) <= 500),
  teams_webhook_url text CHECK (length(teams_webhook_url) <= 2000),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Per user: their Slack member id and Teams address (the user principal name the card mentions).
ALTER TABLE users
  ADD COLUMN slack_member_id text CHECK (slack_member_id ~ '^[UW][A-Z0-9]{2,30}$'),
  ADD COLUMN teams_address text CHECK (length(teams_address) BETWEEN 3 AND 320);
