//! Delivery statistics of one webhook over a window, in fixed buckets, read from the hourly
//! rollup `delivery_stats_hourly` that each batch of attempts updates (test sends excluded).

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

/// The upper bounds (milliseconds) of the duration histogram's buckets; one more bucket holds
/// everything from the last bound up. The migration's `herald_duration_histogram` uses the same.
pub const DURATION_BOUNDS_MS: [f64; 24] = [
    1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0, 500.0,
    700.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 7000.0, 10000.0,
];

/// The `quantile` (0–1) of durations counted in `histogram`, interpolated within its bucket;
/// `None` when it counts nothing.
pub fn histogram_quantile(histogram: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = histogram.iter().sum();
    if total <= 0 {
        return None;
    }
    let target = quantile.clamp(0.0, 1.0) * total as f64;
    let mut below = 0.0;
    for (index, &count) in histogram.iter().enumerate() {
        let count = count as f64;
        if count > 0.0 && below + count >= target {
            let lower = if index == 0 {
                0.0
            } else {
                DURATION_BOUNDS_MS[index - 1]
            };
            let Some(&upper) = DURATION_BOUNDS_MS.get(index) else {
                return Some(lower);
            };
            let within = ((target - below) / count).clamp(0.0, 1.0);
            return Some(lower + within * (upper - lower));
        }
        below += count;
    }
    DURATION_BOUNDS_MS.last().copied()
}

/// Every bucket of `window` ending now, oldest first; buckets without attempts are zeros.
/// Reads the hourly statistics (at most 168 rows), not the attempt log.
pub async fn webhook_stats(
    database: &Database,
    webhook: &WebhookId,
    window: StatsWindow,
    now: DateTime<Utc>,
) -> Result<Vec<Bucket>, StoreError> {
    let size = window.bucket_seconds();
    let first = window.first_bucket(now);
    let client = database.pool().get().await?;
    let rows = client
        .query(
            "SELECT extract(epoch FROM hour)::bigint AS hour, delivered, will_retry, failed, durations \
             FROM delivery_stats_hourly \
             WHERE webhook_id = $1 AND hour >= to_timestamp($2::bigint) ORDER BY hour",
            &[&webhook.as_str(), &first],
        )
        .await?;
    let mut buckets: Vec<(i64, i64, i64, Vec<i64>)> = (0..window.buckets())
        .map(|_| (0, 0, 0, vec![0; DURATION_BOUNDS_MS.len() + 1]))
        .collect();
    for row in &rows {
        let hour: i64 = row.try_get("hour")?;
        let Some(bucket) = usize::try_from((hour - first).div_euclid(size))
            .ok()
            .and_then(|index| buckets.get_mut(index))
        else {
            continue;
        };
        bucket.0 += row.try_get::<_, i64>("delivered")?;
        bucket.1 += row.try_get::<_, i64>("will_retry")?;
        bucket.2 += row.try_get::<_, i64>("failed")?;
        let durations: Vec<i64> = row.try_get("durations")?;
        for (sum, count) in bucket.3.iter_mut().zip(durations) {
            *sum += count;
        }
    }
    Ok(buckets
        .into_iter()
        .enumerate()
        .map(|(n, (delivered, will_retry, failed, durations))| Bucket {
            start: Utc
                .timestamp_opt(first + n as i64 * size, 0)
                .single()
                .unwrap_or_default(),
            delivered,
            will_retry,
            failed,
            p50_ms: histogram_quantile(&durations, 0.50),
            p95_ms: histogram_quantile(&durations, 0.95),
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

    #[test]
    fn quantiles_come_from_the_histogram_interpolated_within_a_bucket() {
        let mut histogram = vec![0; DURATION_BOUNDS_MS.len() + 1];
        assert_eq!(histogram_quantile(&histogram, 0.5), None);
        // Ten durations in [10, 15) ms and ten in [100, 150) ms.
        histogram[6] = 10;
        histogram[12] = 10;
        let p50 = histogram_quantile(&histogram, 0.5).expect("a median");
        assert!((10.0..=15.0).contains(&p50), "{p50}");
        let p95 = histogram_quantile(&histogram, 0.95).expect("a p95");
        assert!((100.0..=150.0).contains(&p95), "{p95}");
        // Everything beyond the last bound reads as the last bound.
        let mut slow = vec![0; DURATION_BOUNDS_MS.len() + 1];
        slow[DURATION_BOUNDS_MS.len()] = 3;
        assert_eq!(histogram_quantile(&slow, 0.99), Some(10_000.0));
    }
}
