-- The registry's version: one number that every statement changing webhooks raises, so that a
-- process following the registry can say how far it has come (and a test or an operator can
-- wait until it has seen a change instead of waiting a fixed time).
CREATE TABLE registry_version (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version   bigint NOT NULL
);
INSERT INTO registry_version (only_row, version) VALUES (true, 0);

-- A statement-level trigger fires after the row-level one that names each changed webhook, so
-- a follower that receives the version has already received every id it covers.
CREATE FUNCTION herald_raise_registry_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    raised bigint;
BEGIN
    UPDATE registry_version SET version = version + 1 RETURNING version INTO raised;
    PERFORM pg_notify('herald_registry_version', raised::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_raise_registry_version
    AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH STATEMENT EXECUTE FUNCTION herald_raise_registry_version();
