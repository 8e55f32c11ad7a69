-- A tenant's failed deliveries are read from the attempt log (their last attempt, result
-- `failed`), never by sweeping the failed queue: these indexes keep that a short index scan
-- whatever the size of the queue or the log.
CREATE INDEX delivery_attempts_failed_idx ON delivery_attempts (tenant_id, id DESC)
    WHERE result = 'failed' AND NOT test;
-- Whether a later attempt of the same delivery exists (it was replayed since).
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (webhook_id, event_id, id);
