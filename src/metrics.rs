//! Prometheus metrics, kept in atomics and rendered as text at `GET /metrics`.
//!
//! Three series are enough to run Keepsake at 3 a.m.: SQL statements executed (from SeaORM's
//! metric callback), GraphQL requests served, and the HTTP request-duration histogram; the
//! others count the retention job, webhook deliveries, and lists written in one pass.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request-duration buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    db_statements: AtomicU64,
    retention_ticks: AtomicU64,
    retention_purges: AtomicU64,
    graphql_requests: AtomicU64,
    lists_one_pass: AtomicU64,
    lists_nested_one_pass: AtomicU64,
    webhook_deliveries: AtomicU64,
    webhook_failures: AtomicU64,
    webhook_pending: AtomicU64,
    duration_buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_micros: AtomicU64,
}

impl Metrics {
    /// One SQL statement ran.
    pub fn db_statement(&self) {
        self.db_statements.fetch_add(1, Ordering::Relaxed);
    }

    /// SQL statements run so far.
    pub fn db_statements(&self) -> u64 {
        self.db_statements.load(Ordering::Relaxed)
    }

    /// The retention job ticked; `ran` when it purged rows (rather than yielding the lock, or
    /// only dropping old events).
    pub fn retention_tick(&self, ran: bool) {
        self.retention_ticks.fetch_add(1, Ordering::Relaxed);
        if ran {
            self.retention_purges.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Retention ticks and the purges they ran, so far.
    pub fn retention(&self) -> (u64, u64) {
        (
            self.retention_ticks.load(Ordering::Relaxed),
            self.retention_purges.load(Ordering::Relaxed),
        )
    }

    /// A webhook attempt ended: delivered, or failed (to be tried again).
    pub fn webhook_attempt(&self, delivered: bool) {
        let counter = if delivered {
            &self.webhook_deliveries
        } else {
            &self.webhook_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` events wait for the webhook (as this server last counted them).
    pub fn webhook_pending(&self, n: u64) {
        self.webhook_pending.store(n, Ordering::Relaxed);
    }

    /// One GraphQL request was executed.
    pub fn graphql_request(&self) {
        self.graphql_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A list was written to JSON in one pass: of plain fields, or (`nested`) with nested
    /// lists inside it, such as a page of users with their attachments.
    pub fn list_in_one_pass(&self, nested: bool) {
        let counter = if nested {
            &self.lists_nested_one_pass
        } else {
            &self.lists_one_pass
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP request took `elapsed`.
    pub fn observe_request(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.duration_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP keepsake_db_statements_total SQL statements executed.\n\
             # TYPE keepsake_db_statements_total counter\n\
             keepsake_db_statements_total {}",
            load(&self.db_statements)
        );
        let _ = writeln!(
            out,
            "# HELP keepsake_graphql_requests_total GraphQL requests executed.\n\
             # TYPE keepsake_graphql_requests_total counter\n\
             keepsake_graphql_requests_total {}\n\
             # HELP keepsake_graphql_lists_in_one_pass_total Lists written to JSON in one pass instead of field by field.\n\
             # TYPE keepsake_graphql_lists_in_one_pass_total counter\n\
             keepsake_graphql_lists_in_one_pass_total{{kind=\"leaves\"}} {}\n\
             keepsake_graphql_lists_in_one_pass_total{{kind=\"nested\"}} {}",
            load(&self.graphql_requests),
            load(&self.lists_one_pass),
            load(&self.lists_nested_one_pass)
        );
        let _ = writeln!(
            out,
            "# HELP keepsake_retention_ticks_total Retention purge ticks.\n\
             # TYPE keepsake_retention_ticks_total counter\n\
             keepsake_retention_ticks_total {}\n\
             # HELP keepsake_retention_purges_total Retention ticks that ran a purge.\n\
             # TYPE keepsake_retention_purges_total counter\n\
             keepsake_retention_purges_total {}",
            load(&self.retention_ticks),
            load(&self.retention_purges)
        );
        let _ = writeln!(
            out,
            "# HELP keepsake_webhook_deliveries_total Events this server delivered to the webhook.\n\
             # TYPE keepsake_webhook_deliveries_total counter\n\
             keepsake_webhook_deliveries_total {}\n\
             # HELP keepsake_webhook_failures_total Webhook attempts that failed (to be retried).\n\
             # TYPE keepsake_webhook_failures_total counter\n\
             keepsake_webhook_failures_total {}\n\
             # HELP keepsake_webhook_pending Events waiting for the webhook, as this server last counted.\n\
             # TYPE keepsake_webhook_pending gauge\n\
             keepsake_webhook_pending {}",
            load(&self.webhook_deliveries),
            load(&self.webhook_failures),
            load(&self.webhook_pending)
        );
        let _ = writeln!(
            out,
            "# HELP keepsake_http_request_duration_seconds HTTP request latency.\n\
             # TYPE keepsake_http_request_duration_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.duration_buckets) {
            let _ = writeln!(
                out,
                "keepsake_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let count = load(&self.duration_count);
        let _ = writeln!(
            out,
            "keepsake_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             keepsake_http_request_duration_seconds_sum {}\n\
             keepsake_http_request_duration_seconds_count {count}",
            load(&self.duration_sum_micros) as f64 / 1e6
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_request(Duration::from_millis(3));
        m.observe_request(Duration::from_secs(5));
        let text = m.render();
        assert!(text.contains("keepsake_http_request_duration_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("keepsake_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("keepsake_http_request_duration_seconds_bucket{le=\"2.5\"} 1"));
        assert!(text.contains("keepsake_http_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("keepsake_http_request_duration_seconds_count 2"));
    }
}
