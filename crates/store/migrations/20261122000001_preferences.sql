-- Per-workspace preferences of the person using the app (theme, last view).
CREATE TABLE preferences (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
