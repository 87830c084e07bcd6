-- Release windows and freezes. Local start time and zone are kept as entered
-- (the zone's rules decide the UTC instants); the recurrence is an RRULE value.
CREATE TABLE calendar_rules (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('window', 'freeze')),
    title            TEXT    NOT NULL CHECK (length(title) > 0),
    zone             TEXT    NOT NULL,
    start_local      TEXT    NOT NULL, -- ISO 8601 local date-time, no offset
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    recurrence       TEXT,
    exceptions       TEXT    NOT NULL, -- JSON array of local date-times
    scope            TEXT    NOT NULL, -- JSON {environments, services}
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);
