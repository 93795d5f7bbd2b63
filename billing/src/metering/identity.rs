//! Environment identity from the operator's namespace labels, as kube-state-metrics
//! exports them in `kube_namespace_labels`, and coverage per environment and hour.
//!
//! The identity of a namespace is read for each hour from that hour's samples, so a
//! namespace deleted mid-month still resolves for the hours it existed, as long as
//! Prometheus keeps them; the ledger also remembers every environment it has seen.

use std::collections::{BTreeMap, BTreeSet};

use akp_rules::billing::period::{Hour, Window};
pub use akp_rules::billing::rows::EnvIdentity;

use crate::metering::config::IdentityConfig;
use crate::metering::integrate::{Series, Spacing, millis_by_hour, segments, union};

/// What the namespace-labels series say for one window.
#[derive(Clone, Debug, Default)]
pub struct WindowIdentity {
    /// (namespace, hour) → identity in that hour; `None`: seen, but not an environment.
    pub by_hour: BTreeMap<(String, Hour), Option<EnvIdentity>>,
    /// Namespace → the last identity seen in the window.
    pub latest: BTreeMap<String, Option<EnvIdentity>>,
    /// (environment namespace, hour) → milliseconds of the hour covered by samples.
    pub coverage: BTreeMap<(String, Hour), i128>,
    /// (namespace, hour) where two series claimed the namespace with different labels
    /// at the same time: its usage in that hour is a data-quality line, not billed.
    pub conflicts: BTreeSet<(String, Hour)>,
}

/// Reads the identity of a namespace-labels series; `None` if it is not one of the
/// operator's environments.
pub fn identity_of(series: &Series, cfg: &IdentityConfig) -> Option<EnvIdentity> {
    if series.label(&cfg.managed_by_label) != cfg.managed_by_value {
        return None;
    }
    let identity = EnvIdentity {
        agency: series.label(&cfg.agency_label).to_string(),
        product: series.label(&cfg.product_label).to_string(),
        product_namespace: series.label(&cfg.product_namespace_label).to_string(),
        environment: series.label(&cfg.environment_label).to_string(),
        contour: series.label(&cfg.contour_label).to_string(),
        class: series.label(&cfg.class_label).to_string(),
    };
    let complete = !identity.agency.is_empty()
        && !identity.product.is_empty()
        && !identity.environment.is_empty();
    complete.then_some(identity)
}

/// Identity and coverage of every namespace seen in `window`.
pub fn identify(
    series: &[Series],
    cfg: &IdentityConfig,
    spacing: Spacing,
    window: Window,
) -> WindowIdentity {
    // (namespace, hour) → (start of the latest segment in the hour, identity).
    let mut best: BTreeMap<(String, Hour), (i64, Option<EnvIdentity>)> = BTreeMap::new();
    let mut latest: BTreeMap<String, (i64, Option<EnvIdentity>)> = BTreeMap::new();
    let mut intervals: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    // (namespace, hour) → identity → when a series claimed it.
    type Claims = BTreeMap<Option<EnvIdentity>, Vec<(i64, i64)>>;
    let mut claims: BTreeMap<(String, Hour), Claims> = BTreeMap::new();
    let (window_start, window_end) = (window.start.start_ms(), window.end.start_ms());
    for s in series {
        let namespace = s.label(&cfg.query.namespace_label);
        if namespace.is_empty() {
            continue;
        }
        let identity = identity_of(s, cfg);
        for seg in segments(&s.samples, spacing) {
            let (start, end) = (seg.start_ms.max(window_start), seg.end_ms.min(window_end));
            if start >= end {
                continue;
            }
            let candidate = (seg.start_ms, identity.clone());
            let mut t = start;
            while t < end {
                let hour = Hour::containing(t.div_euclid(1000));
                let slot = best
                    .entry((namespace.to_string(), hour))
                    .or_insert((i64::MIN, None));
                if candidate > *slot {
                    *slot = candidate.clone();
                }
                claims
                    .entry((namespace.to_string(), hour))
                    .or_default()
                    .entry(identity.clone())
                    .or_default()
                    .push((t, end.min(hour.end_ms())));
                t = hour.end_ms();
            }
            let slot = latest
                .entry(namespace.to_string())
                .or_insert((i64::MIN, None));
            if candidate > *slot {
                *slot = candidate;
            }
            if identity.is_some() {
                intervals
                    .entry(namespace.to_string())
                    .or_default()
                    .push((seg.start_ms, seg.end_ms));
            }
        }
    }
    // A label change is one series ending and the next starting; two identities at
    // the same time is a conflict, which no rule such as "latest wins" may settle.
    let mut conflicts = BTreeSet::new();
    for (key, by_identity) in claims {
        let spans: Vec<Vec<(i64, i64)>> = by_identity.into_values().map(union).collect();
        let overlap = spans.iter().enumerate().any(|(i, a)| {
            spans[i + 1..]
                .iter()
                .any(|b| !crate::metering::integrate::intersect(a, b).is_empty())
        });
        if overlap {
            conflicts.insert(key);
        }
    }
    let mut coverage = BTreeMap::new();
    for (namespace, list) in intervals {
        for (hour, ms) in millis_by_hour(&union(list), window) {
            coverage.insert((namespace.clone(), hour), ms);
        }
    }
    WindowIdentity {
        by_hour: best.into_iter().map(|(k, (_, id))| (k, id)).collect(),
        latest: latest.into_iter().map(|(k, (_, id))| (k, id)).collect(),
        coverage,
        conflicts,
    }
}

impl WindowIdentity {
    /// The identity of `namespace` in `hour`: that hour's labels, else the window's
    /// latest, else what the ledger remembers (`known`). `None`: not an environment.
    pub fn resolve<'a>(
        &'a self,
        namespace: &str,
        hour: Hour,
        known: &'a BTreeMap<String, EnvIdentity>,
    ) -> Option<&'a EnvIdentity> {
        if let Some(seen) = self.by_hour.get(&(namespace.to_string(), hour)) {
            return seen.as_ref();
        }
        if let Some(seen) = self.latest.get(namespace) {
            return seen.as_ref();
        }
        known.get(namespace)
    }

    /// Environments seen in the window with their first and last hour in it.
    pub fn environments(&self) -> BTreeMap<String, (EnvIdentity, Hour, Hour)> {
        let mut out: BTreeMap<String, (EnvIdentity, Hour, Hour)> = BTreeMap::new();
        for ((namespace, hour), identity) in &self.by_hour {
            let Some(identity) = identity else { continue };
            out.entry(namespace.clone())
                .and_modify(|(id, first, last)| {
                    *first = (*first).min(*hour);
                    if *hour >= *last {
                        *last = *hour;
                        *id = identity.clone();
                    }
                })
                .or_insert((identity.clone(), *hour, *hour));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::integrate::Sample;
    use crate::metering::quantity::NANO;

    fn ns_series(
        namespace: &str,
        env: Option<&str>,
        minutes: std::ops::Range<i64>,
        w: Window,
    ) -> Series {
        let cfg = IdentityConfig::default();
        let mut labels = BTreeMap::from([
            ("__name__".to_string(), "kube_namespace_labels".to_string()),
            ("namespace".to_string(), namespace.to_string()),
        ]);
        if let Some(env) = env {
            for (k, v) in [
                (&cfg.managed_by_label, "akp-operator"),
                (&cfg.agency_label, "mon"),
                (&cfg.product_label, "portal"),
                (&cfg.environment_label, env),
            ] {
                labels.insert(k.clone(), v.to_string());
            }
        }
        Series {
            labels,
            samples: minutes
                .map(|m| Sample {
                    t_ms: w.start.start_ms() + m * 60_000,
                    value: NANO,
                })
                .collect(),
        }
    }

    #[test]
    fn resolves_per_hour_and_measures_coverage() {
        let start = Hour::containing(1_790_000_000);
        let w = Window {
            start,
            end: start.plus(3),
        };
        let spacing = Spacing {
            interval_ms: 60_000,
            hold_ms: 120_000,
            lookback_ms: 3_600_000,
        };
        let mut gappy = ns_series("mon-portal-production", Some("production"), 0..90, w);
        // Ten missing scrapes in the first hour.
        gappy.samples.retain(|s| {
            let m = (s.t_ms - w.start.start_ms()) / 60_000;
            !(20..30).contains(&m)
        });
        let series = vec![gappy, ns_series("kube-system", None, 0..180, w)];
        let id = identify(&series, &IdentityConfig::default(), spacing, w);
        let known = BTreeMap::new();
        let prod = id.resolve("mon-portal-production", start, &known);
        assert_eq!(prod.map(|i| i.environment.as_str()), Some("production"));
        // Deleted after 90 minutes: the third hour still resolves from the window.
        assert!(
            id.resolve("mon-portal-production", start.plus(2), &known)
                .is_some()
        );
        assert!(id.resolve("kube-system", start, &known).is_none());
        assert!(id.resolve("unknown", start, &known).is_none());
        // Samples 19 and 30 are 11 minutes apart: 19 covers one minute, 20..30 is a gap.
        assert_eq!(
            id.coverage[&("mon-portal-production".to_string(), start)],
            50 * 60_000
        );
        assert_eq!(
            id.coverage[&("mon-portal-production".to_string(), start.plus(1))],
            30 * 60_000
        );
        assert!(
            !id.coverage
                .contains_key(&("kube-system".to_string(), start))
        );
        let envs = id.environments();
        assert_eq!(envs["mon-portal-production"].1, start);
        assert_eq!(envs["mon-portal-production"].2, start.plus(1));
    }

    /// Two series claiming one namespace with different labels at the same time are a
    /// conflict, not settled by "latest wins"; a label change (one series ending, the
    /// next starting) is not (R-BIL-01).
    #[test]
    fn r_bil_01_overlapping_identities_conflict_and_a_label_change_does_not() {
        let start = Hour::containing(1_790_000_000);
        let w = Window {
            start,
            end: start.plus(2),
        };
        let spacing = Spacing {
            interval_ms: 60_000,
            hold_ms: 120_000,
            lookback_ms: 3_600_000,
        };
        let cfg = IdentityConfig::default();
        let ns = "mon-portal-production";
        // Hour 0: production until minute 30, then development (a label change).
        // Hour 1: production and development both all hour (a forgery, or two exporters).
        let series = vec![
            ns_series(ns, Some("production"), 0..30, w),
            ns_series(ns, Some("development"), 30..120, w),
            ns_series(ns, Some("production"), 60..120, w),
        ];
        let id = identify(&series, &cfg, spacing, w);
        assert!(!id.conflicts.contains(&(ns.to_string(), start)));
        assert!(id.conflicts.contains(&(ns.to_string(), start.plus(1))));
        let known = BTreeMap::new();
        assert_eq!(
            id.resolve(ns, start, &known)
                .map(|i| i.environment.as_str()),
            Some("development")
        );
    }
}
