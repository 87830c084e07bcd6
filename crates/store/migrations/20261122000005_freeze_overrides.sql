-- Permission for one change to go ahead inside one freeze, given by someone
-- whose role allows it, with a reason. Bound to the change's planned window
-- at the time: moving the change needs a new override. Append-only, like
-- decisions: a mistaken override is answered by moving the change.
CREATE TABLE freeze_overrides (
    id               INTEGER PRIMARY KEY,
    change_id        INTEGER NOT NULL REFERENCES change_records (id),
    rule_id          INTEGER NOT NULL,
    rule_title       TEXT    NOT NULL,
    planned_start_ms INTEGER NOT NULL,
    planned_end_ms   INTEGER NOT NULL,
    reason           TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    by_profile_id    INTEGER NOT NULL REFERENCES profiles (id),
    by_name          TEXT    NOT NULL,
    by_roles         TEXT    NOT NULL, -- JSON array, the roles held when granted
    at_ms            INTEGER NOT NULL
);
CREATE INDEX freeze_overrides_change ON freeze_overrides (change_id);

CREATE TRIGGER freeze_overrides_no_update BEFORE UPDATE ON freeze_overrides
BEGIN
    SELECT RAISE(ABORT, 'freeze overrides are append-only');
END;
CREATE TRIGGER freeze_overrides_no_delete BEFORE DELETE ON freeze_overrides
BEGIN
    SELECT RAISE(ABORT, 'freeze overrides are append-only');
END;

-- Where an imported rule came from (its ICS UID), so importing the same file
-- again updates the rule rather than adding a second copy.
ALTER TABLE calendar_rules ADD COLUMN source_uid TEXT;
CREATE UNIQUE INDEX calendar_rules_source_uid ON calendar_rules (source_uid)
    WHERE source_uid IS NOT NULL;
