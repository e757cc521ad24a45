-- Rule 3: team roles count only while their holder is a member of the team, and giving a team role
-- makes its holder a member in the same write (removing a member takes their roles in the team). Roles
-- given before the rule counted without a membership: their holders become members, so that they keep
-- counting and every team role has a member behind it.
INSERT INTO team_members (org_id, team_id, user_id)
SELECT DISTINCT org_id, team_id, user_id FROM assignments WHERE team_id IS NOT NULL
ON CONFLICT DO NOTHING;
