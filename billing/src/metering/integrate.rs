//! Exact integration of raw Prometheus samples into per-hour amounts.
//!
//! Prometheus' `increase()` and `avg_over_time()` extrapolate and depend on where the
//! window boundaries fall relative to the scrapes, so the collector fetches raw samples
//! and integrates them here, with rules that make each hour's amount depend only on
//! the samples in `[hour start - lookback, hour end + hold]`, whatever window the
//! hour was fetched in:
//!
//! - **Counters**: each sample after the first adds `v[i] - v[i-1]`, or `v[i]` when the
//!   counter went down (a reset: the process restarted and counts from zero), to the
//!   hour containing its timestamp. A sample with no predecessor within `lookback` is a
//!   new series and adds nothing, so a gap longer than the lookback never double-counts
//!   (the usage before a series' first scrape is not billed; Prometheus' `increase`
//!   ignores it too).
//! - **Gauges**: a sample holds its value from its timestamp until the next sample if
//!   that comes within `hold` (a missed scrape is bridged), otherwise for one nominal
//!   scrape `interval` (the series ended, or the data has a gap, reported as coverage).
//!   The amount is the time integral of that step function, clipped to the hour.

use std::collections::BTreeMap;

use akp_rules::billing::period::{Hour, Window};

/// One sample: time in milliseconds, value in nano-units of the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Unix milliseconds.
    pub t_ms: i64,
    /// Value in nano-units (1e-9) of the metric's unit.
    pub value: i128,
}

/// One series: its labels (with `__name__`) and samples in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    /// Labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// Samples, sorted by time, one per timestamp.
    pub samples: Vec<Sample>,
}

impl Series {
    /// A label's value, or `""`.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }

    /// Sorts the samples and drops repeated timestamps (keeping the first).
    pub fn normalize(&mut self) {
        self.samples.sort_by_key(|s| s.t_ms);
        self.samples.dedup_by_key(|s| s.t_ms);
    }
}

/// How samples are spaced and bridged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spacing {
    /// The nominal scrape (or subquery step) interval, ms.
    pub interval_ms: i64,
    /// The longest gap between two samples that is bridged, ms (≥ interval).
    pub hold_ms: i64,
    /// How far back a counter sample's predecessor may be, ms.
    pub lookback_ms: i64,
}

/// Counter increments per hour of `window`, in nano-units.
pub fn counter_by_hour(
    samples: &[Sample],
    spacing: Spacing,
    window: Window,
) -> BTreeMap<Hour, i128> {
    let mut out = BTreeMap::new();
    let (start, end) = (window.start.start_ms(), window.end.start_ms());
    for pair in samples.windows(2) {
        let (prev, cur) = (pair[0], pair[1]);
        if cur.t_ms < start || cur.t_ms >= end {
            continue;
        }
        if cur.t_ms - prev.t_ms >= spacing.lookback_ms {
            continue;
        }
        let delta = if cur.value >= prev.value {
            cur.value - prev.value
        } else {
            cur.value.max(0)
        };
        *out.entry(Hour::containing(cur.t_ms.div_euclid(1000)))
            .or_insert(0) += delta;
    }
    out
}

/// A piece of a step function: `value` over `[start_ms, end_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Start, ms.
    pub start_ms: i64,
    /// End (exclusive), ms.
    pub end_ms: i64,
    /// Value in nano-units.
    pub value: i128,
}

/// The step function of a gauge's samples (see the module docs).
pub fn segments(samples: &[Sample], spacing: Spacing) -> Vec<Segment> {
    let mut out = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        let end = match samples.get(i + 1) {
            Some(next) if next.t_ms - s.t_ms <= spacing.hold_ms => next.t_ms,
            Some(next) => (s.t_ms + spacing.interval_ms).min(next.t_ms),
            None => s.t_ms + spacing.interval_ms,
        };
        out.push(Segment {
            start_ms: s.t_ms,
            end_ms: end,
            value: s.value,
        });
    }
    out
}

/// Calls `f(hour, overlap_ms)` for each hour of `window` that `[start, end)` overlaps.
fn for_each_hour_overlap(start: i64, end: i64, window: Window, mut f: impl FnMut(Hour, i64)) {
    let start = start.max(window.start.start_ms());
    let end = end.min(window.end.start_ms());
    let mut t = start;
    while t < end {
        let hour = Hour::containing(t.div_euclid(1000));
        let stop = end.min(hour.end_ms());
        f(hour, stop - t);
        t = stop;
    }
}

/// The time integral of segments per hour of `window`, in nano-units × ms.
pub fn integral_by_hour(segs: &[Segment], window: Window) -> BTreeMap<Hour, i128> {
    let mut out = BTreeMap::new();
    for seg in segs {
        for_each_hour_overlap(seg.start_ms, seg.end_ms, window, |hour, ms| {
            *out.entry(hour).or_insert(0) += seg.value * i128::from(ms);
        });
    }
    out
}

/// Time intervals `[start, end)` in ms, sorted and disjoint.
pub type Intervals = Vec<(i64, i64)>;

/// The intervals where a step function is positive.
pub fn positive(segs: &[Segment]) -> Intervals {
    union(
        segs.iter()
            .filter(|s| s.value > 0)
            .map(|s| (s.start_ms, s.end_ms))
            .collect(),
    )
}

/// The union of intervals, sorted and merged.
pub fn union(mut intervals: Vec<(i64, i64)>) -> Intervals {
    intervals.retain(|(s, e)| s < e);
    intervals.sort_unstable();
    let mut out: Intervals = Vec::with_capacity(intervals.len());
    for (s, e) in intervals {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The intersection of two sorted, disjoint interval lists.
pub fn intersect(a: &[(i64, i64)], b: &[(i64, i64)]) -> Intervals {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        if s < e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Milliseconds covered per hour of `window`.
pub fn millis_by_hour(intervals: &[(i64, i64)], window: Window) -> BTreeMap<Hour, i128> {
    let mut out = BTreeMap::new();
    for &(s, e) in intervals {
        for_each_hour_overlap(s, e, window, |hour, ms| {
            *out.entry(hour).or_insert(0) += i128::from(ms);
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::quantity::NANO;

    const MIN: i64 = 60_000;
    const H: i64 = 3_600_000;

    fn spacing() -> Spacing {
        Spacing {
            interval_ms: MIN,
            hold_ms: 2 * MIN,
            lookback_ms: H,
        }
    }

    fn window(hours: i64) -> Window {
        let start = Hour::containing(1_790_000_000);
        Window {
            start,
            end: start.plus(hours),
        }
    }

    fn at(w: Window, minutes: i64, value: i128) -> Sample {
        Sample {
            t_ms: w.start.start_ms() + minutes * MIN,
            value: value * NANO,
        }
    }

    #[test]
    fn counter_handles_resets_and_hours() {
        let w = window(2);
        // 10 per minute; a restart at minute 70 counts its first value (5).
        let mut samples: Vec<Sample> = (0..70).map(|m| at(w, m, 10 * m as i128)).collect();
        samples.extend((70..120).map(|m| at(w, m, 5 + 10 * (m as i128 - 70))));
        let by_hour = counter_by_hour(&samples, spacing(), w);
        // Hour 0: minutes 1..=59, each +10 (minute 0 has no predecessor).
        assert_eq!(by_hour[&w.start], 590 * NANO);
        // Hour 1: minutes 60..=69 +10 each, 70 is a reset (+5), 71..=119 +10 each.
        assert_eq!(by_hour[&w.start.plus(1)], (100 + 5 + 490) * NANO);
    }

    #[test]
    fn counter_bridges_missing_scrapes_but_not_beyond_lookback() {
        let w = window(3);
        let samples = vec![
            at(w, 0, 0),
            at(w, 10, 100),
            // 40 missing scrapes: still the same series.
            at(w, 50, 500),
            // Over an hour of silence: a new series, adds nothing.
            at(w, 170, 2000),
            at(w, 171, 2010),
        ];
        let by_hour = counter_by_hour(&samples, spacing(), w);
        assert_eq!(by_hour[&w.start], 500 * NANO);
        assert_eq!(by_hour.get(&w.start.plus(1)), None);
        assert_eq!(by_hour[&w.start.plus(2)], 10 * NANO);
    }

    #[test]
    fn counter_result_does_not_depend_on_the_window() {
        let w = window(24);
        let samples: Vec<Sample> = (-30..(24 * 60 + 30))
            .filter(|m| m % 7 != 3)
            .map(|m| at(w, m, (m as i128 * 13) % 997))
            .collect();
        let whole = counter_by_hour(&samples, spacing(), w);
        let mut pieces = BTreeMap::new();
        for h in w.hours() {
            pieces.extend(counter_by_hour(
                &samples,
                spacing(),
                Window {
                    start: h,
                    end: h.plus(1),
                },
            ));
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn gauge_holds_values_and_stops_after_the_series_ends() {
        let w = window(2);
        let samples = vec![
            at(w, -1, 4),
            at(w, 0, 2),
            // 2 minutes: bridged.
            at(w, 2, 2),
            // 10 minutes: only one interval counted.
            at(w, 12, 3),
            at(w, 59, 1),
        ];
        let segs = segments(&samples, spacing());
        let by_hour = integral_by_hour(&segs, w);
        let minute = i128::from(MIN);
        // [0,2): 2, [2,3): 2, [12,13): 3 (47 minutes to the next sample: not bridged),
        // [59,60): 1
        assert_eq!(by_hour[&w.start], (2 * 2 + 2 + 3 + 1) * NANO * minute);
        assert_eq!(by_hour.get(&w.start.plus(1)), None);
        assert_eq!(
            millis_by_hour(&positive(&segs), w)[&w.start],
            i128::from(5 * MIN)
        );
    }

    #[test]
    fn gauge_splits_across_hours_by_the_millisecond() {
        let w = window(2);
        let samples = vec![Sample {
            t_ms: w.start.start_ms() + H - 20_000,
            value: NANO,
        }];
        let by_hour = integral_by_hour(&segments(&samples, spacing()), w);
        assert_eq!(by_hour[&w.start], 20_000 * NANO);
        assert_eq!(by_hour[&w.start.plus(1)], 40_000 * NANO);
    }

    #[test]
    fn interval_algebra() {
        assert_eq!(
            union(vec![(5, 7), (1, 3), (2, 4), (7, 8), (9, 9)]),
            vec![(1, 4), (5, 8)]
        );
        assert_eq!(
            intersect(&[(0, 10), (20, 30)], &[(5, 25), (28, 40)]),
            vec![(5, 10), (20, 25), (28, 30)]
        );
        assert!(intersect(&[(0, 1)], &[]).is_empty());
    }
}
