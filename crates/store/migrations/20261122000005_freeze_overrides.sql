-- Calendar rules get ids that are never reused (AUTOINCREMENT): a freeze
-- override, an audit entry or an exported UID naming rule 7 must never come
-- to mean a different rule after rule 7 is deleted. They also remember where
-- an imported rule came from (its ICS UID), so importing the same file again
-- updates the rule rather than adding a second copy.
CREATE TABLE calendar_rules_v2 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL CHECK (kind IN ('window', 'freeze')),
    title            TEXT    NOT NULL CHECK (length(title) > 0),
    zone             TEXT    NOT NULL,
    start_local      TEXT    NOT NULL, -- ISO 8601 local date-time, no offset
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    recurrence       TEXT,
    exceptions       TEXT    NOT NULL, -- JSON array of local date-times
    scope            TEXT    NOT NULL, -- JSON {environments, services}
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    source_uid       TEXT CHECK (source_uid IS NULL OR length(source_uid) > 0)
);
INSERT INTO calendar_rules_v2
    (id, kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope, created_at_ms, updated_at_ms)
    SELECT id, kind, title, zone, start_local, duration_minutes, recurrence, exceptions, scope, created_at_ms, updated_at_ms
    FROM calendar_rules;
DROP TABLE calendar_rules;
ALTER TABLE calendar_rules_v2 RENAME TO calendar_rules;
CREATE UNIQUE INDEX calendar_rules_source_uid ON calendar_rules (source_uid)
    WHERE source_uid IS NOT NULL;

-- Permission for one change to go ahead inside one occurrence of one freeze,
-- given by someone whose role allows it, with a reason. Bound to the change's
-- planned window at the time: moving the change needs a new override.
-- Append-only, like decisions.
CREATE TABLE freeze_overrides (
    id                  INTEGER PRIMARY KEY,
    change_id           INTEGER NOT NULL REFERENCES change_records (id),
    rule_id             INTEGER NOT NULL,
    rule_title          TEXT    NOT NULL,
    occurrence_start_ms INTEGER NOT NULL,
    planned_start_ms    INTEGER NOT NULL,
    planned_end_ms      INTEGER NOT NULL,
    reason              TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    by_profile_id       INTEGER NOT NULL REFERENCES profiles (id),
    by_name             TEXT    NOT NULL,
    by_roles            TEXT    NOT NULL, -- JSON array, the roles held when granted
    at_ms               INTEGER NOT NULL
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
