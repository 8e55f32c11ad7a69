-- The webhook registry. Secrets are encrypted by the application (AES-256-GCM, SECRETS_KEY):
-- the *_sealed columns hold nonce || ciphertext || tag, never plain text.
CREATE TABLE webhooks (
    id                          text COLLATE "C" PRIMARY KEY,
    tenant_id                   text COLLATE "C" NOT NULL,
    name                        text NOT NULL,
    url                         text NOT NULL,
    event_types                 text[] NOT NULL,
    auth_header_name            text,
    auth_header_value_sealed    bytea,
    enabled                     boolean NOT NULL DEFAULT true,
    description                 text,
    signing_secret_sealed       bytea NOT NULL,
    previous_secret_sealed      bytea,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhooks_tenant_name_key UNIQUE (tenant_id, name)
);

CREATE INDEX webhooks_tenant_id_idx ON webhooks (tenant_id, id);

-- Every delivery attempt, newest last. No foreign key: an attempt recorded while its webhook is
-- being deleted must not fail the batch it is written in.
CREATE TABLE delivery_attempts (
    id                bigserial PRIMARY KEY,
    webhook_id        text COLLATE "C" NOT NULL,
    tenant_id         text COLLATE "C" NOT NULL,
    event_id          text NOT NULL,
    event_type        text NOT NULL,
    attempt           smallint NOT NULL,
    attempted_at      timestamptz NOT NULL,
    duration_ms       integer NOT NULL,
    response_status   smallint,
    error             text,
    result            text NOT NULL CHECK (result IN ('delivered', 'will-retry', 'failed')),
    test              boolean NOT NULL,
    response_excerpt  text
);

CREATE INDEX delivery_attempts_log_idx ON delivery_attempts (webhook_id, id DESC);
CREATE INDEX delivery_attempts_last_idx ON delivery_attempts (webhook_id, attempted_at DESC, id DESC) WHERE NOT test;

-- Services keep the registry in memory and learn about changes through this channel.
CREATE FUNCTION herald_notify_webhook_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('herald_webhook_changes', OLD.id);
    ELSE
        PERFORM pg_notify('herald_webhook_changes', NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION herald_notify_webhook_change();
