//! What a run measured: HDR histograms of latencies (µs), error counts and outcomes, merged from
//! every worker at the end (no lock on the hot path), and the report printed as a table or JSON.
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

/// One worker's (or the whole run's) measurements.
#[derive(Default)]
pub struct Stats {
    hists: BTreeMap<&'static str, Histogram<u64>>,
    errors: BTreeMap<&'static str, u64>,
    /// Error kinds ("POST /v1/reservations: 503") and final statuses, counted.
    pub outcomes: BTreeMap<String, u64>,
    /// Quantities per operation other than time (the read units of a search).
    values: BTreeMap<&'static str, Summary>,
}

/// Count, sum and maximum of a quantity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub sum: f64,
    pub max: f64,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.count += other.count;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

fn histogram() -> Histogram<u64> {
    // Three significant digits; auto-resizing, so no sample is ever dropped as out of range.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures is a valid precision"))
}

impl Stats {
    pub fn record(&mut self, metric: &'static str, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .hists
            .entry(metric)
            .or_insert_with(histogram)
            .record(micros.max(1));
    }

    /// One observation of a quantity (not a latency).
    pub fn value(&mut self, name: &'static str, v: f64) {
        self.values.entry(name).or_default().add(Summary {
            count: 1,
            sum: v,
            max: v,
        });
    }

    pub fn summary(&self, name: &str) -> Summary {
        self.values.get(name).copied().unwrap_or_default()
    }

    pub fn error(&mut self, metric: &'static str, kind: &str) {
        *self.errors.entry(metric).or_default() += 1;
        *self
            .outcomes
            .entry(format!("error {metric}: {kind}"))
            .or_default() += 1;
    }

    pub fn outcome(&mut self, what: impl Into<String>) {
        *self.outcomes.entry(what.into()).or_default() += 1;
    }

    pub fn errors(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn count(&self, metric: &str) -> u64 {
        self.hists.get(metric).map_or(0, Histogram::len)
    }

    pub fn merge(&mut self, other: Stats) {
        for (k, h) in other.hists {
            let _ = self.hists.entry(k).or_insert_with(histogram).add(h);
        }
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        for (k, v) in other.values {
            self.values.entry(k).or_default().add(v);
        }
    }

    /// One row per metric; `per_sec` divides its count by `window` (the measured phase).
    pub fn metrics(&self, window: Duration) -> Vec<Metric> {
        let secs = window.as_secs_f64();
        let names: std::collections::BTreeSet<&str> = self
            .hists
            .keys()
            .chain(self.errors.keys())
            .copied()
            .collect();
        names
            .into_iter()
            .map(|name| {
                let h = self.hists.get(name).filter(|h| !h.is_empty());
                let count = h.map_or(0, Histogram::len);
                Metric {
                    name: name.to_string(),
                    count,
                    errors: self.errors.get(name).copied().unwrap_or(0),
                    per_sec: (secs > 0.0).then(|| count as f64 / secs),
                    latency: h.map(Latency::of).unwrap_or_default(),
                }
            })
            .collect()
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[derive(Debug, Serialize)]
pub struct Metric {
    pub name: String,
    pub count: u64,
    pub errors: u64,
    /// Completed samples per second of the measured phase.
    pub per_sec: Option<f64>,
    #[serde(flatten)]
    pub latency: Latency,
}

/// A histogram's percentiles and maximum, in ms (none without samples).
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let q = |q: f64| Some(ms(h.value_at_quantile(q)));
        Latency {
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: Some(ms(h.max())),
        }
    }
}

/// What `--json` prints: one object per run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// UTC, RFC 3339: when the measured phase began.
    pub started_at: String,
    pub params: Value,
    /// Length of the measured phase in seconds (the client's clock).
    pub elapsed_s: f64,
    pub metrics: Vec<Metric>,
    pub errors: u64,
    pub outcomes: BTreeMap<String, u64>,
    /// Scenario-specific figures (answered share, sagas/s on the server's clock, …).
    pub derived: BTreeMap<String, f64>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn print_table(&self) {
        println!(
            "scenario {}  started {}  measured {:.2}s  params {}",
            self.scenario, self.started_at, self.elapsed_s, self.params
        );
        println!(
            "{:<38} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "metric", "n", "errors", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
        for m in &self.metrics {
            println!(
                "{:<38} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
                m.name,
                m.count,
                m.errors,
                m.per_sec.map_or_else(|| "-".into(), |v| format!("{v:.0}")),
                f(m.latency.p50_ms),
                f(m.latency.p90_ms),
                f(m.latency.p99_ms),
                f(m.latency.max_ms)
            );
        }
        for (k, v) in &self.derived {
            println!("{k}: {v:.2}");
        }
        println!("errors: {}  outcomes: {:?}", self.errors, self.outcomes);
        for n in &self.notes {
            println!("note: {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Stats;

    #[test]
    fn merged_workers_give_one_histogram_per_metric() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=90 {
            a.record("get", Duration::from_millis(ms));
        }
        for ms in 91..=100 {
            b.record("get", Duration::from_millis(ms));
        }
        b.error("get", "status 503");
        b.outcome("CONFIRMED");
        a.merge(b);
        let m = a.metrics(Duration::from_secs(2));
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].count, m[0].errors), (100, 1));
        assert_eq!(m[0].per_sec, Some(50.0));
        let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() < 0.1);
        let l = &m[0].latency;
        assert!(near(l.p50_ms, 50.0), "{:?}", l.p50_ms);
        assert!(near(l.p99_ms, 99.0), "{:?}", l.p99_ms);
        assert!(near(l.max_ms, 100.0), "{:?}", l.max_ms);
        assert_eq!(a.outcomes.get("CONFIRMED"), Some(&1));
        assert_eq!(a.outcomes.get("error get: status 503"), Some(&1));
    }

    #[test]
    fn values_merge_into_count_mean_and_max() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.value("units", 1.5);
        a.value("units", 0.5);
        b.value("units", 4.0);
        a.merge(b);
        let s = a.summary("units");
        assert_eq!((s.count, s.max), (3, 4.0));
        assert_eq!(s.mean(), Some(2.0));
        assert_eq!(a.summary("other").mean(), None);
    }
}
