-- One value sealed under each SECRETS_KEY that has written to this database, so that a process
-- started with a key that cannot open the stored secrets stops at once instead of failing every
-- delivery later. The key id is derived from the key (it reveals nothing about it).
CREATE TABLE secrets_key_checks (
    key_id      text COLLATE "C" PRIMARY KEY,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
