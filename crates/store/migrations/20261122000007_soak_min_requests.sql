-- The fewest requests one soak sample must see to vouch for a release. It was
-- taken from the default (5) and a binding's own value was not kept; now it is.
ALTER TABLE deployment_targets
    ADD COLUMN min_requests INTEGER NOT NULL DEFAULT 5 CHECK (min_requests BETWEEN 1 AND 100000);
