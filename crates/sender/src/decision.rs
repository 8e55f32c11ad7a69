//! What a delivery leads to, decided apart from doing it.
//!
//! The service looks the webhook up, makes the attempt and moves the message; everything it
//! decides on the way is here, as pure functions over what it found:
//!
//! - [`screen`]: given the webhook as the registry has it now, is the delivery attempted,
//!   dropped (the webhook is gone) or parked (it is disabled: [`parked_while_disabled`])?
//! - [`after_attempt`]: given how the attempt went, the delivery's headers and the ladder,
//!   what is recorded in the attempt log and where the message goes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_broker::{DeliveryHeaders, FailureFacts};
use herald_contract::{NextStep, RetryLadder};
use herald_delivery::AttemptOutcome;
use herald_store::{AttemptResult, DeliveryTarget, NewAttempt};

use crate::metrics::DropReason;

/// Why a delivery is not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unattempted {
    /// The webhook is gone: the delivery is acknowledged, and nothing else.
    Drop(DropReason),
    /// The webhook is disabled: the delivery is parked in the failed queue, to be replayed
    /// once the webhook is fixed and enabled.
    ParkDisabled,
}

/// Screens a delivery against its webhook as the registry has it now (`None`: it does not
/// exist): the target to attempt, or why it is not attempted. A webhook of another tenant is
/// treated as deleted: a delivery never crosses tenants, whatever its headers say.
pub fn screen(
    target: Option<Arc<DeliveryTarget>>,
    delivery: &DeliveryHeaders,
) -> Result<Arc<DeliveryTarget>, Unattempted> {
    match target {
        None => Err(Unattempted::Drop(DropReason::WebhookDeleted)),
        Some(target) if target.tenant_id != delivery.tenant_id => {
            Err(Unattempted::Drop(DropReason::WebhookDeleted))
        }
        Some(target) if !target.enabled => Err(Unattempted::ParkDisabled),
        Some(target) => Ok(target),
    }
}

/// The `x-last-error` of a delivery parked because its webhook is disabled.
pub const DISABLED_ERROR: &str = "the webhook is disabled";

/// Where a delivery owed to a disabled webhook goes: the failed queue, at `at`, with its
/// attempts so far and the reason.
pub fn parked_while_disabled(delivery: &DeliveryHeaders, at: DateTime<Utc>) -> Route {
    Route::Park {
        headers: delivery.clone(),
        failure: FailureFacts {
            last_status: None,
            last_error: DISABLED_ERROR.into(),
        },
        failed_at: at,
    }
}

/// Where the delivery message goes after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Delivered: the message is acknowledged.
    Done,
    /// Published to the retry stage of `delay`, with these headers.
    Retry {
        delay: Duration,
        headers: DeliveryHeaders,
        failure: FailureFacts,
    },
    /// Every attempt failed: parked in the failed queue at `failed_at`, with these headers.
    Park {
        headers: DeliveryHeaders,
        failure: FailureFacts,
        failed_at: DateTime<Utc>,
    },
}

/// What an attempt leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The attempt log's row.
    pub record: NewAttempt,
    pub route: Route,
}

/// Decides what the attempt that started at `attempted_at` and went as `outcome` leads to.
pub fn after_attempt(
    delivery: &DeliveryHeaders,
    outcome: &AttemptOutcome,
    ladder: &RetryLadder,
    attempted_at: DateTime<Utc>,
) -> Decision {
    let attempt = delivery.attempts.saturating_add(1);
    let advanced = || DeliveryHeaders {
        attempts: attempt,
        first_attempt_at: delivery.first_attempt_at.or(Some(attempted_at)),
        ..delivery.clone()
    };
    let failure = || FailureFacts {
        last_status: outcome.status,
        last_error: outcome.error.clone().unwrap_or_default(),
    };
    let route = if outcome.delivered() {
        Route::Done
    } else {
        match ladder.after_failed_attempt(attempt) {
            NextStep::Retry { delay } => Route::Retry {
                delay,
                headers: advanced(),
                failure: failure(),
            },
            NextStep::GiveUp => Route::Park {
                headers: advanced(),
                failure: failure(),
                failed_at: attempted_at + outcome.duration,
            },
        }
    };
    let result = match route {
        Route::Done => AttemptResult::Delivered,
        Route::Retry { .. } => AttemptResult::WillRetry,
        Route::Park { .. } => AttemptResult::Failed,
    };
    let record = NewAttempt {
        webhook_id: delivery.webhook_id.clone(),
        tenant_id: delivery.tenant_id.clone(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type,
        attempt,
        attempted_at,
        duration_ms: u32::try_from(outcome.duration.as_millis()).unwrap_or(u32::MAX),
        response_status: outcome.status,
        error: outcome.error.clone(),
        result,
        test: false,
        response_excerpt: outcome.response_excerpt.clone(),
    };
    Decision { record, route }
}

/// The outcome of an attempt that could not be made because the webhook is unusable (its
/// secrets do not decrypt, ...): a failure like any other, so the delivery follows the ladder.
pub fn unusable(problem: String) -> AttemptOutcome {
    AttemptOutcome {
        status: None,
        error: Some(problem),
        duration: Duration::ZERO,
        response_excerpt: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use herald_contract::{EventType, SigningSecret};

    use super::*;

    fn ladder() -> RetryLadder {
        "15s,60s".parse().expect("a ladder")
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0)
            .single()
            .expect("a time")
    }

    fn delivery(attempts: u32) -> DeliveryHeaders {
        DeliveryHeaders {
            webhook_id: "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E"
                .parse()
                .expect("an id"),
            tenant_id: "acme".parse().expect("a tenant"),
            event_id: "e-1".parse().expect("an event id"),
            event_type: EventType::ContactCreated,
            event_timestamp: None,
            attempts,
            first_attempt_at: (attempts > 0).then(|| at() - chrono::Duration::minutes(5)),
            traceparent: None,
            tracestate: None,
            seal: Some("v1,k,mac".into()),
        }
    }

    fn answered(status: u16) -> AttemptOutcome {
        AttemptOutcome {
            status: Some(status),
            error: herald_delivery::client::judge_status(status),
            duration: Duration::from_millis(120),
            response_excerpt: Some("ok".into()),
        }
    }

    fn unanswered(error: &str) -> AttemptOutcome {
        AttemptOutcome {
            status: None,
            error: Some(error.into()),
            duration: Duration::from_secs(10),
            response_excerpt: None,
        }
    }

    fn target(tenant: &str, enabled: bool) -> Option<Arc<DeliveryTarget>> {
        Some(Arc::new(DeliveryTarget {
            id: delivery(0).webhook_id,
            tenant_id: tenant.parse().expect("a tenant"),
            url: "https://example.com/hook".parse().expect("a URL"),
            auth_header: None,
            enabled,
            signing_secret: SigningSecret::generate(),
            previous_secret: None,
        }))
    }

    #[test]
    fn a_2xx_is_recorded_as_delivered_and_acknowledged() {
        let decision = after_attempt(&delivery(0), &answered(204), &ladder(), at());
        assert_eq!(decision.route, Route::Done);
        assert_eq!(decision.record.result, AttemptResult::Delivered);
        assert_eq!(decision.record.attempt, 1);
        assert_eq!(decision.record.response_status, Some(204));
        assert_eq!(decision.record.error, None);
        assert_eq!(decision.record.duration_ms, 120);
        assert!(!decision.record.test);
    }

    #[test]
    fn every_kind_of_failure_before_the_last_attempt_goes_to_the_next_stage() {
        for outcome in [
            answered(500),
            answered(404),
            answered(302),
            unanswered("timed out after 10s"),
            unanswered("connection refused"),
            unanswered("refused by network policy: 10.0.0.1 is not a public address"),
        ] {
            let decision = after_attempt(&delivery(0), &outcome, &ladder(), at());
            let Route::Retry {
                delay,
                headers,
                failure,
            } = decision.route
            else {
                panic!("{outcome:?} should be retried");
            };
            assert_eq!(delay, Duration::from_secs(15));
            assert_eq!(headers.attempts, 1);
            assert_eq!(headers.first_attempt_at, Some(at()));
            assert_eq!(headers.seal, delivery(0).seal, "the seal travels on");
            assert_eq!(failure.last_status, outcome.status);
            assert_eq!(Some(failure.last_error), outcome.error.clone());
            assert_eq!(decision.record.result, AttemptResult::WillRetry);
        }
    }

    #[test]
    fn a_retry_keeps_the_first_attempts_time_and_climbs_the_ladder() {
        let earlier = delivery(1);
        let decision = after_attempt(&earlier, &answered(503), &ladder(), at());
        let Route::Retry { delay, headers, .. } = decision.route else {
            panic!("the second attempt should be retried");
        };
        assert_eq!(delay, Duration::from_secs(60));
        assert_eq!(headers.attempts, 2);
        assert_eq!(headers.first_attempt_at, earlier.first_attempt_at);
        assert_eq!(decision.record.attempt, 2);
    }

    #[test]
    fn the_last_attempt_failing_parks_the_delivery_when_the_attempt_ended() {
        let outcome = unanswered("timed out after 10s");
        let decision = after_attempt(&delivery(2), &outcome, &ladder(), at());
        let Route::Park {
            headers,
            failure,
            failed_at,
        } = decision.route
        else {
            panic!("the third attempt of a two-stage ladder is the last");
        };
        assert_eq!(headers.attempts, 3);
        assert_eq!(failure.last_status, None);
        assert_eq!(failure.last_error, "timed out after 10s");
        assert_eq!(failed_at, at() + Duration::from_secs(10));
        assert_eq!(decision.record.result, AttemptResult::Failed);
    }

    #[test]
    fn an_unusable_target_is_a_failed_attempt_that_follows_the_ladder() {
        let outcome = unusable("the webhook's secrets do not decrypt".into());
        let decision = after_attempt(&delivery(0), &outcome, &ladder(), at());
        assert!(matches!(decision.route, Route::Retry { .. }));
        assert_eq!(decision.record.duration_ms, 0);
        assert_eq!(
            decision.record.error.as_deref(),
            Some("the webhook's secrets do not decrypt")
        );
    }

    #[test]
    fn deleted_and_other_tenants_webhooks_are_dropped_and_disabled_ones_parked() {
        let delivery = delivery(0);
        let dropped = Some(Unattempted::Drop(DropReason::WebhookDeleted));
        assert_eq!(screen(None, &delivery).err(), dropped);
        assert_eq!(screen(target("globex", true), &delivery).err(), dropped);
        assert_eq!(
            screen(target("acme", false), &delivery).err(),
            Some(Unattempted::ParkDisabled)
        );
        assert!(screen(target("acme", true), &delivery).is_ok());
    }

    #[test]
    fn a_delivery_owed_to_a_disabled_webhook_is_parked_with_its_attempts_and_the_reason() {
        let owed = delivery(2);
        let Route::Park {
            headers,
            failure,
            failed_at,
        } = parked_while_disabled(&owed, at())
        else {
            panic!("a disabled webhook's delivery is parked");
        };
        assert_eq!(headers, owed, "no attempt was made");
        assert_eq!(failure.last_status, None);
        assert_eq!(failure.last_error, DISABLED_ERROR);
        assert_eq!(failed_at, at());
    }
}
