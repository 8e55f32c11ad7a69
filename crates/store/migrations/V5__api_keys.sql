-- Tenant API keys: random, shown once, kept only as a SHA-256 digest (the keys carry 256 bits
-- of randomness, so a fast digest cannot be searched back to a key). A deleted row is a revoked
-- key: every API process looks keys up here, so revocation is seen at once.
CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    tenant_id   text COLLATE "C" NOT NULL,
    name        text NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('manage', 'read')),
    key_digest  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, id);
