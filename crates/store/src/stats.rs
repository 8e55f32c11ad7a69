//! Delivery statistics of one webhook over a window, in fixed buckets, from the attempt log
//! (test sends excluded).

use chrono::{DateTime, TimeZone, Utc};
use herald_contract::WebhookId;

use crate::database::Database;
use crate::error::StoreError;

/// A window of statistics and its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsWindow {
    /// The last 24 hours, hourly.
    Day,
    /// The last 7 days, 6-hourly.
    Week,
}

impl StatsWindow {
    /// `24h` or `7d`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "24h" => Some(StatsWindow::Day),
            "7d" => Some(StatsWindow::Week),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            StatsWindow::Day => "24h",
            StatsWindow::Week => "7d",
        }
    }

    pub const fn bucket_seconds(self) -> i64 {
        match self {
            StatsWindow::Day => 3600,
            StatsWindow::Week => 6 * 3600,
        }
    }

    pub const fn buckets(self) -> i64 {
        match self {
            StatsWindow::Day => 24,
            StatsWindow::Week => 28,
        }
    }

    /// The start of the first bucket of the window that ends with the bucket holding `now`
    /// (buckets are aligned to the Unix epoch, so every API process agrees on them).
    pub fn first_bucket(self, now: DateTime<Utc>) -> i64 {
        let size = self.bucket_seconds();
        now.timestamp().div_euclid(size) * size - (self.buckets() - 1) * size
    }
}

/// One bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub delivered: i64,
    pub will_retry: i64,
    pub failed: i64,
    /// Attempt durations; `None` without attempts.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Every bucket of `window` ending now, oldest first; buckets without attempts are zeros.
pub async fn webhook_stats(
    database: &Database,
    webhook: &WebhookId,
    window: StatsWindow,
    now: DateTime<Utc>,
) -> Result<Vec<Bucket>, StoreError> {
    let size = window.bucket_seconds();
    let first = window.first_bucket(now);
    let client = database.pool().get().await?;
    // The partial index on (webhook_id, attempted_at) WHERE NOT test bounds the scan to the
    // window.
    let rows = client
        .query(
            "SELECT (floor(extract(epoch FROM attempted_at)::float8 / $3::bigint) * $3::bigint)::bigint AS bucket, \
                 count(*) FILTER (WHERE result = 'delivered') AS delivered, \
                 count(*) FILTER (WHERE result = 'will-retry') AS will_retry, \
                 count(*) FILTER (WHERE result = 'failed') AS failed, \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p50, \
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95 \
             FROM delivery_attempts \
             WHERE webhook_id = $1 AND NOT test AND attempted_at >= to_timestamp($2::bigint) \
             GROUP BY 1 ORDER BY 1",
            &[&webhook.as_str(), &first, &size],
        )
        .await?;
    let mut found = std::collections::HashMap::new();
    for row in &rows {
        let start: i64 = row.try_get("bucket")?;
        found.insert(
            start,
            (
                row.try_get::<_, i64>("delivered")?,
                row.try_get::<_, i64>("will_retry")?,
                row.try_get::<_, i64>("failed")?,
                row.try_get::<_, Option<f64>>("p50")?,
                row.try_get::<_, Option<f64>>("p95")?,
            ),
        );
    }
    Ok((0..window.buckets())
        .map(|n| {
            let start = first + n * size;
            let (delivered, will_retry, failed, p50_ms, p95_ms) =
                found.remove(&start).unwrap_or((0, 0, 0, None, None));
            Bucket {
                start: Utc.timestamp_opt(start, 0).single().unwrap_or_default(),
                delivered,
                will_retry,
                failed,
                p50_ms,
                p95_ms,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_with_the_bucket_holding_now_and_are_aligned_to_the_epoch() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 2, 12, 34, 56)
            .single()
            .expect("a time");
        let first = StatsWindow::Day.first_bucket(now);
        let last = first + 23 * 3600;
        assert_eq!(
            Utc.timestamp_opt(last, 0).single(),
            Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single()
        );
        let week = StatsWindow::Week.first_bucket(now);
        assert_eq!(week % (6 * 3600), 0);
        assert_eq!(
            Utc.timestamp_opt(week + 27 * 6 * 3600, 0).single(),
            Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single()
        );
        assert_eq!(StatsWindow::parse("24h"), Some(StatsWindow::Day));
        assert_eq!(StatsWindow::parse("7d"), Some(StatsWindow::Week));
        assert_eq!(StatsWindow::parse("1y"), None);
    }
}
