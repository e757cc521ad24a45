-- Reverse queries start from candidates, not from the whole organization (issue 16).
--
-- whoCan reads, for each role that grants the permission and each scope where it counts (the root, the
-- location and its ancestors, each named team), the holders in user id order after the page's cursor:
-- one index range per (role, scope), merged in user order. This index serves those ranges and every
-- lookup the (org_id, role_key) index served, so that one goes.
CREATE INDEX assignments_reverse ON assignments (org_id, role_key, location_id, team_id, user_id);
DROP INDEX assignments_role;

-- …and the holders of a flag that grants the permission on its own (rule 6), and the approvers named by
-- a flag.
CREATE INDEX users_flags ON users USING gin (flags);
