-- Why a webhook is disabled, and since when: 'manual' (someone, through the API) or 'failing'
-- (Herald, after AUTO_DISABLE_AFTER of failures). Both are NULL while the webhook is enabled.
ALTER TABLE webhooks
    ADD COLUMN disabled_reason text CHECK (disabled_reason IN ('manual', 'failing')),
    ADD COLUMN disabled_at timestamptz;
UPDATE webhooks SET disabled_reason = 'manual', disabled_at = updated_at WHERE NOT enabled;

-- Each webhook's health, kept from the attempts the senders record: a row exists once a real
-- (not test) attempt failed, and `failing_since` is set while every attempt since then failed.
CREATE TABLE webhook_health (
    -- No foreign key, as for the attempt log: an attempt batch written while its webhook is
    -- being deleted must not fail. Deleting a webhook deletes its row; readers join webhooks.
    webhook_id         text COLLATE "C" PRIMARY KEY,
    tenant_id          text COLLATE "C" NOT NULL,
    failing_since      timestamptz,
    failed_attempts    bigint NOT NULL DEFAULT 0,
    last_error         text,
    last_failure_at    timestamptz,
    -- `webhook.failing` was announced for the current failing period.
    failing_announced  boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_health_failing_idx ON webhook_health (failing_since) WHERE failing_since IS NOT NULL;

-- Operational events waiting to be published to OPERATIONAL_EXCHANGE. They are written in the
-- transaction that changes the state they announce, and deleted once the broker confirmed them,
-- so a crash neither loses nor repeats an announcement (at most a re-publish of what was
-- confirmed just before the crash).
CREATE TABLE operational_outbox (
    id           bigserial PRIMARY KEY,
    type         text NOT NULL,
    tenant_id    text NOT NULL,
    webhook_id   text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- The facts the event's `data` is built from, as its type has them.
    since              timestamptz,
    failed_deliveries  bigint,
    last_error         text,
    reason             text,
    event_id           text,
    event_type         text,
    attempts           integer,
    last_status        integer
);

-- How far each sender replica has come through the deliveries queue: when the last delivery it
-- took had entered the queue. The oldest delivery still waiting entered after that.
-- Also how many deliveries it holds unacknowledged (the broker tells that only through its
-- management plugin).
CREATE TABLE queue_progress (
    consumer           text PRIMARY KEY,
    queue              text NOT NULL,
    last_enqueued_at   timestamptz,
    in_flight          integer NOT NULL,
    reported_at        timestamptz NOT NULL
);

-- One rule for every way a webhook's `enabled` changes (API, auto-disable): disabling records
-- why and when (the API says nothing, so 'manual'); enabling clears both.
CREATE FUNCTION herald_webhook_disabled_fields() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.enabled THEN
        NEW.disabled_reason := NULL;
        NEW.disabled_at := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.enabled THEN
        NEW.disabled_reason := coalesce(NEW.disabled_reason, 'manual');
        NEW.disabled_at := coalesce(NEW.disabled_at, now());
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER webhooks_disabled_fields
    BEFORE INSERT OR UPDATE OF enabled ON webhooks
    FOR EACH ROW EXECUTE FUNCTION herald_webhook_disabled_fields();

-- Disabling announces `webhook.disabled`; enabling starts the webhook's health afresh (its
-- failures before were what disabled it).
CREATE FUNCTION herald_webhook_enabled_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.enabled AND NOT NEW.enabled THEN
        INSERT INTO operational_outbox (type, tenant_id, webhook_id, occurred_at, since, reason)
        VALUES ('webhook.disabled', NEW.tenant_id, NEW.id, NEW.disabled_at, NEW.disabled_at,
                NEW.disabled_reason);
    ELSIF NEW.enabled AND NOT OLD.enabled THEN
        DELETE FROM webhook_health WHERE webhook_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_enabled_changed
    AFTER UPDATE OF enabled ON webhooks
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled)
    EXECUTE FUNCTION herald_webhook_enabled_changed();
