-- Old attempts are pruned by age (ATTEMPT_RETENTION).
CREATE INDEX delivery_attempts_attempted_at_idx ON delivery_attempts (attempted_at);
