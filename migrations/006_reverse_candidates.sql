-- Reverse queries start from candidates, not from the whole organization (issue 16).
--
-- whoCan reads, for each role that grants the permission and each scope where it counts (the root, the
-- location and its ancestors, each named team), the first holders in user id order after the page's
-- cursor: one index range per (role, scope), each already in user order, merged (Merge Append) and cut
-- at the page. A range is in user order only when every column before user_id is an equality: an
-- `IS NULL` is not one for the planner, which then reads and sorts the whole range (measured: 135 ms
-- against 0.7 ms for 2 ranges of 20,000). Hence one index per kind of scope (a CHECK keeps an
-- assignment to a location or a team, never both):
--   - the root: (org, role, user) where neither is set;
--   - a location: (org, role, location, user), which also serves every (org, role) lookup the
--     assignments_role index served, so that one goes;
--   - a team: (org, role, team, user) where a team is set.
CREATE INDEX assignments_reverse_root ON assignments (org_id, role_key, user_id)
  WHERE location_id IS NULL AND team_id IS NULL;
CREATE INDEX assignments_reverse_location ON assignments (org_id, role_key, location_id, user_id);
CREATE INDEX assignments_reverse_team ON assignments (org_id, role_key, team_id, user_id)
  WHERE team_id IS NOT NULL;
DROP INDEX assignments_role;

-- …and the holders of a flag that grants the permission on its own (rule 6), and the approvers named by
-- a flag.
CREATE INDEX users_flags ON users USING gin (flags);
