//! The meters: which queries each resource kind runs, and how their series become
//! exact per-namespace, per-hour amounts. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use crate::catalog::{Catalog, LicenseMetric};
use crate::metering::config::{MeteringConfig, QueryConfig};
use crate::metering::integrate::{
    Intervals, Series, counter_by_hour, integral_by_hour, intersect, millis_by_hour, positive,
    segments, union,
};
use crate::metering::quantity::{Exact, Unit};
use akp_rules::billing::period::{Hour, Window};

/// A unit of collection: one or more queries, one watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meter {
    /// CPU core-seconds used, and core-hours of per-core licensed software.
    Cpu,
    /// Memory working set, GiB-hours.
    Memory,
    /// Volume space used, GiB-hours.
    Storage,
    /// Traffic by class: Internet, gateway, internal (three queries).
    Telecom,
    /// Instance-hours of catalog software.
    Software,
    /// Availability of production environments (R-MON-01).
    Availability,
    /// The requested quota.
    Quota,
}

impl Meter {
    /// Every meter, in collection order.
    pub const ALL: [Meter; 7] = [
        Meter::Cpu,
        Meter::Memory,
        Meter::Storage,
        Meter::Telecom,
        Meter::Software,
        Meter::Availability,
        Meter::Quota,
    ];

    /// The name used for watermarks and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Meter::Cpu => "cpu",
            Meter::Memory => "memory",
            Meter::Storage => "storage",
            Meter::Telecom => "telecom",
            Meter::Software => "software",
            Meter::Availability => "availability",
            Meter::Quota => "quota",
        }
    }

    /// The meter with this name.
    pub fn from_name(name: &str) -> Option<Meter> {
        Meter::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The queries of this meter, in the order [`compute`] expects their results.
    pub fn queries(self, config: &MeteringConfig) -> Vec<&QueryConfig> {
        let m = &config.meters;
        match self {
            // The software series give the image of containers whose CPU series has none
            // (the kubelet's /metrics/resource), for per-core licences.
            Meter::Cpu => vec![&m.cpu, &m.software.query],
            Meter::Memory => vec![&m.memory],
            Meter::Storage => vec![&m.storage],
            Meter::Telecom => vec![&m.telecom.internet, &m.telecom.gateway, &m.telecom.pod],
            Meter::Software => vec![&m.software.query],
            Meter::Availability => vec![&m.availability],
            Meter::Quota => vec![&m.quota.query],
        }
    }
}

/// What a ledger row measures.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// CPU used.
    Cpu,
    /// Memory working set.
    Memory,
    /// Volume space used.
    Storage,
    /// Internet traffic.
    TelecomInternet,
    /// Traffic through the e-government gateway.
    TelecomGateway,
    /// Other pod traffic.
    TelecomInternal,
    /// Instance-hours of a catalog item.
    SoftwareInstances(String),
    /// Core-hours of a catalog item with a per-core licence.
    SoftwareCores(String),
    /// Instance-hours of images that are in no catalog item (data quality only).
    UncataloguedInstances,
    /// Share of the hour in which all workloads were available (production only).
    Availability,
    /// Requested CPU.
    QuotaCpu,
    /// Requested memory.
    QuotaMemory,
    /// Requested storage.
    QuotaStorage,
}

impl Resource {
    /// The unit its quantity is in.
    pub fn unit(&self) -> Unit {
        match self {
            Resource::Cpu | Resource::QuotaCpu => Unit::CoreSecond,
            Resource::Memory
            | Resource::Storage
            | Resource::QuotaMemory
            | Resource::QuotaStorage => Unit::GibHour,
            Resource::TelecomInternet | Resource::TelecomGateway | Resource::TelecomInternal => {
                Unit::Gigabyte
            }
            Resource::SoftwareInstances(_) | Resource::UncataloguedInstances => Unit::InstanceHour,
            Resource::SoftwareCores(_) => Unit::CoreHour,
            Resource::Availability => Unit::HourShare,
        }
    }

    /// Parses a ledger resource name.
    pub fn parse(name: &str) -> Option<Resource> {
        if let Some(item) = name.strip_prefix("software.instances/") {
            return Some(Resource::SoftwareInstances(item.to_string()));
        }
        if let Some(item) = name.strip_prefix("software.cores/") {
            return Some(Resource::SoftwareCores(item.to_string()));
        }
        Some(match name {
            "cpu" => Resource::Cpu,
            "memory" => Resource::Memory,
            "storage" => Resource::Storage,
            "telecom.internet" => Resource::TelecomInternet,
            "telecom.gateway" => Resource::TelecomGateway,
            "telecom.internal" => Resource::TelecomInternal,
            "software.uncatalogued" => Resource::UncataloguedInstances,
            "availability" => Resource::Availability,
            "quota.cpu" => Resource::QuotaCpu,
            "quota.memory" => Resource::QuotaMemory,
            "quota.storage" => Resource::QuotaStorage,
            _ => return None,
        })
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Cpu => f.write_str("cpu"),
            Resource::Memory => f.write_str("memory"),
            Resource::Storage => f.write_str("storage"),
            Resource::TelecomInternet => f.write_str("telecom.internet"),
            Resource::TelecomGateway => f.write_str("telecom.gateway"),
            Resource::TelecomInternal => f.write_str("telecom.internal"),
            Resource::SoftwareInstances(item) => write!(f, "software.instances/{item}"),
            Resource::SoftwareCores(item) => write!(f, "software.cores/{item}"),
            Resource::UncataloguedInstances => f.write_str("software.uncatalogued"),
            Resource::Availability => f.write_str("availability"),
            Resource::QuotaCpu => f.write_str("quota.cpu"),
            Resource::QuotaMemory => f.write_str("quota.memory"),
            Resource::QuotaStorage => f.write_str("quota.storage"),
        }
    }
}

/// Exact amounts by (namespace, resource, hour), before rounding to the ledger's units.
pub type Tally = BTreeMap<(String, Resource, Hour), Exact>;

fn add(tally: &mut Tally, namespace: &str, resource: Resource, hour: Hour, amount: Exact) {
    let key = (namespace.to_string(), resource, hour);
    match tally.get_mut(&key) {
        Some(Exact::Increase(v)) | Some(Exact::Integral(v)) | Some(Exact::Millis(v)) => {
            *v += match amount {
                Exact::Increase(a) | Exact::Integral(a) | Exact::Millis(a) => a,
            };
        }
        None => {
            tally.insert(key, amount);
        }
    }
}

fn counters(
    tally: &mut Tally,
    series: &[Series],
    q: &QueryConfig,
    config: &MeteringConfig,
    window: Window,
    resource: &Resource,
) {
    let spacing = q.spacing(&config.timing);
    for s in series {
        let namespace = s.label(&q.namespace_label);
        if namespace.is_empty() {
            continue;
        }
        for (hour, v) in counter_by_hour(&s.samples, spacing, window) {
            add(tally, namespace, resource.clone(), hour, Exact::Increase(v));
        }
    }
}

fn gauges(
    tally: &mut Tally,
    series: &[Series],
    q: &QueryConfig,
    config: &MeteringConfig,
    window: Window,
    resource: impl Fn(&Series) -> Option<Resource>,
) {
    let spacing = q.spacing(&config.timing);
    for s in series {
        let namespace = s.label(&q.namespace_label);
        let Some(resource) = resource(s) else {
            continue;
        };
        if namespace.is_empty() {
            continue;
        }
        for (hour, v) in integral_by_hour(&segments(&s.samples, spacing), window) {
            add(tally, namespace, resource.clone(), hour, Exact::Integral(v));
        }
    }
}

/// Turns a meter's query results (in the order of [`Meter::queries`]) into amounts.
pub fn compute(
    meter: Meter,
    config: &MeteringConfig,
    catalog: &Catalog,
    window: Window,
    results: &[Vec<Series>],
) -> Tally {
    let m = &config.meters;
    let mut tally = Tally::new();
    let result = |i: usize| results.get(i).map(Vec::as_slice).unwrap_or(&[]);
    match meter {
        Meter::Cpu => {
            counters(
                &mut tally,
                result(0),
                &m.cpu,
                config,
                window,
                &Resource::Cpu,
            );
            // Per-core licences: the CPU the software's containers used. The image is
            // the CPU series' own (cAdvisor) or kube-state-metrics' for its container.
            let spacing = m.cpu.spacing(&config.timing);
            let sw = &m.software;
            let container = |s: &Series| {
                (
                    s.label(&sw.query.namespace_label).to_string(),
                    s.label(&sw.pod_label).to_string(),
                    s.label(&sw.container_label).to_string(),
                )
            };
            let images: BTreeMap<_, String> = result(1)
                .iter()
                .filter(|s| s.label("__name__") == sw.info_metric)
                .map(|s| (container(s), s.label(&sw.image_label).to_string()))
                .collect();
            for s in result(0) {
                let namespace = s.label(&m.cpu.namespace_label);
                let image = match s.label(&sw.image_label) {
                    "" => images.get(&container(s)).map_or("", String::as_str),
                    own => own,
                };
                let entry = catalog.lookup(image);
                let Some(entry) = entry.filter(|e| e.license == LicenseMetric::Core) else {
                    continue;
                };
                if namespace.is_empty() {
                    continue;
                }
                for (hour, v) in counter_by_hour(&s.samples, spacing, window) {
                    let resource = Resource::SoftwareCores(entry.name.clone());
                    add(&mut tally, namespace, resource, hour, Exact::Increase(v));
                }
            }
        }
        Meter::Memory => gauges(&mut tally, result(0), &m.memory, config, window, |_| {
            Some(Resource::Memory)
        }),
        Meter::Storage => gauges(&mut tally, result(0), &m.storage, config, window, |_| {
            Some(Resource::Storage)
        }),
        Meter::Availability => gauges(
            &mut tally,
            result(0),
            &m.availability,
            config,
            window,
            |_| Some(Resource::Availability),
        ),
        Meter::Quota => {
            let q = &m.quota;
            gauges(&mut tally, result(0), &q.query, config, window, |s| {
                let resource = s.label(&q.resource_label);
                if resource == q.cpu {
                    Some(Resource::QuotaCpu)
                } else if resource == q.memory {
                    Some(Resource::QuotaMemory)
                } else if resource == q.storage {
                    Some(Resource::QuotaStorage)
                } else {
                    None
                }
            })
        }
        Meter::Telecom => {
            let t = &m.telecom;
            counters(
                &mut tally,
                result(0),
                &t.internet,
                config,
                window,
                &Resource::TelecomInternet,
            );
            counters(
                &mut tally,
                result(1),
                &t.gateway,
                config,
                window,
                &Resource::TelecomGateway,
            );
            let mut pods = Tally::new();
            counters(
                &mut pods,
                result(2),
                &t.pod,
                config,
                window,
                &Resource::TelecomInternal,
            );
            // Pod counters see the edge traffic too: internal is what is left.
            for ((namespace, resource, hour), amount) in pods {
                let Exact::Increase(total) = amount else {
                    continue;
                };
                let edge = |r: Resource| match tally.get(&(namespace.clone(), r, hour)) {
                    Some(Exact::Increase(v)) => *v,
                    _ => 0,
                };
                let internal =
                    total - edge(Resource::TelecomInternet) - edge(Resource::TelecomGateway);
                tally.insert(
                    (namespace, resource, hour),
                    Exact::Increase(internal.max(0)),
                );
            }
        }
        Meter::Software => software(&mut tally, result(0), config, catalog, window),
    }
    tally
}

/// Instance-hours: the time each container's info series (with its image) and its
/// running series (value 1) are both present, by the image's catalog item.
fn software(
    tally: &mut Tally,
    series: &[Series],
    config: &MeteringConfig,
    catalog: &Catalog,
    window: Window,
) {
    let sw = &config.meters.software;
    let spacing = sw.query.spacing(&config.timing);
    // (namespace, pod, container)
    type Key = (String, String, String);
    // Each info series: its image and when it was present.
    type Presence = Vec<(String, Intervals)>;
    let mut running: BTreeMap<Key, Vec<(i64, i64)>> = BTreeMap::new();
    let mut info: BTreeMap<Key, Presence> = BTreeMap::new();
    for s in series {
        let key = (
            s.label(&sw.query.namespace_label).to_string(),
            s.label(&sw.pod_label).to_string(),
            s.label(&sw.container_label).to_string(),
        );
        if key.0.is_empty() {
            continue;
        }
        let present = positive(&segments(&s.samples, spacing));
        let name = s.label("__name__");
        if name == sw.running_metric {
            running.entry(key).or_default().extend(present);
        } else if name == sw.info_metric {
            let image = s.label(&sw.image_label).to_string();
            info.entry(key).or_default().push((image, present));
        }
    }
    for (key, infos) in info {
        let Some(run) = running.get(&key) else {
            continue;
        };
        let run = union(run.clone());
        for (image, present) in infos {
            let both = intersect(&present, &run);
            let resource = match catalog.lookup(&image) {
                Some(entry) => Resource::SoftwareInstances(entry.name.clone()),
                None => Resource::UncataloguedInstances,
            };
            for (hour, ms) in millis_by_hour(&both, window) {
                add(tally, &key.0, resource.clone(), hour, Exact::Millis(ms));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::integrate::Sample;
    use crate::metering::quantity::{NANO, to_micro};

    fn window() -> Window {
        let start = Hour::containing(1_790_000_000);
        Window {
            start,
            end: start.plus(1),
        }
    }

    fn series(
        labels: &[(&str, &str)],
        w: Window,
        minutes: std::ops::Range<i64>,
        value: impl Fn(i64) -> i128,
    ) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            samples: minutes
                .map(|m| Sample {
                    t_ms: w.start.start_ms() + m * 60_000,
                    value: value(m) * NANO,
                })
                .collect(),
        }
    }

    fn micro(tally: &Tally, ns: &str, resource: Resource, hour: Hour) -> Option<i128> {
        let unit = resource.unit();
        tally
            .get(&(ns.to_string(), resource, hour))
            .and_then(|e| to_micro(*e, unit))
    }

    #[test]
    fn telecom_internal_is_pod_traffic_minus_edge_traffic() {
        let w = window();
        let config = MeteringConfig::default();
        let internet = series(&[("exported_namespace", "a")], w, -1..60, |m| {
            1000 * i128::from(m)
        });
        let gateway = series(&[("source_namespace", "a")], w, -1..60, |m| {
            500 * i128::from(m)
        });
        let pod = series(&[("namespace", "a")], w, -1..60, |m| 4000 * i128::from(m));
        let tally = compute(
            Meter::Telecom,
            &config,
            &Catalog::default(),
            w,
            &[vec![internet], vec![gateway], vec![pod]],
        );
        // 60 increments each: 60 kB, 30 kB, 240 kB → internal 150 kB = 150 micro-GB.
        assert_eq!(
            micro(&tally, "a", Resource::TelecomInternet, w.start),
            Some(60)
        );
        assert_eq!(
            micro(&tally, "a", Resource::TelecomGateway, w.start),
            Some(30)
        );
        assert_eq!(
            micro(&tally, "a", Resource::TelecomInternal, w.start),
            Some(150)
        );
    }

    /// A catalog of one per-core item, `pg`, of the images `registry.akp.kz/pg`.
    fn per_core_pg() -> Result<Catalog, String> {
        Catalog::from_yaml(
            "kind: SoftwareCatalogItem\nmetadata: {name: pg}\nspec: {displayName: pg, category: system, images: [registry.akp.kz/pg], allowedEnvironments: [production], license: {metric: core}}\n",
        )
    }

    #[test]
    fn software_counts_running_catalog_containers() -> Result<(), String> {
        let w = window();
        let config = MeteringConfig::default();
        let catalog = per_core_pg()?;
        let ids = [("namespace", "a"), ("pod", "p"), ("container", "c")];
        let mut info_labels = ids.to_vec();
        info_labels.extend([
            ("__name__", "kube_pod_container_info"),
            ("image", "registry.akp.kz/pg:15"),
        ]);
        let mut run_labels = ids.to_vec();
        run_labels.push(("__name__", "kube_pod_container_status_running"));
        let mut other = info_labels.clone();
        other[1] = ("pod", "q");
        other[4] = ("image", "docker.io/unknown:1");
        let mut other_run = run_labels.clone();
        other_run[1] = ("pod", "q");
        let results = vec![vec![
            series(&info_labels, w, 0..60, |_| 1),
            // Running only for the first half hour.
            series(&run_labels, w, 0..60, |m| i128::from(m < 30)),
            series(&other, w, 0..60, |_| 1),
            series(&other_run, w, 0..60, |_| 1),
        ]];
        let tally = compute(Meter::Software, &config, &catalog, w, &results);
        assert_eq!(
            micro(
                &tally,
                "a",
                Resource::SoftwareInstances("pg".into()),
                w.start
            ),
            Some(500_000)
        );
        assert_eq!(
            micro(&tally, "a", Resource::UncataloguedInstances, w.start),
            Some(1_000_000)
        );

        let cpu = series(
            &[("namespace", "a"), ("image", "registry.akp.kz/pg:15")],
            w,
            -1..60,
            |m| 30 * i128::from(m + 1),
        );
        let tally = compute(Meter::Cpu, &config, &catalog, w, &[vec![cpu]]);
        assert_eq!(
            micro(&tally, "a", Resource::Cpu, w.start),
            Some(1_800_000_000)
        );
        assert_eq!(
            micro(&tally, "a", Resource::SoftwareCores("pg".into()), w.start),
            Some(500_000)
        );
        Ok(())
    }

    /// The kubelet's /metrics/resource has no `image`: per-core licences take it from
    /// kube-state-metrics' container info (R-BIL-01).
    #[test]
    fn r_bil_01_cpu_without_image_takes_it_from_the_container_info() -> Result<(), String> {
        let w = window();
        let config = MeteringConfig::default();
        let catalog = per_core_pg()?;
        let ids = [("namespace", "a"), ("pod", "p"), ("container", "c")];
        let cpu = series(&ids, w, -1..60, |m| 30 * i128::from(m + 1));
        let mut info = ids.to_vec();
        info.extend([
            ("__name__", "kube_pod_container_info"),
            ("image", "registry.akp.kz/pg:15"),
        ]);
        let mut elsewhere = info.clone();
        elsewhere[1] = ("pod", "other");
        let results = [vec![cpu.clone()], vec![series(&elsewhere, w, 0..60, |_| 1)]];
        let tally = compute(Meter::Cpu, &config, &catalog, w, &results);
        assert_eq!(
            micro(&tally, "a", Resource::SoftwareCores("pg".into()), w.start),
            None
        );
        let results = [vec![cpu], vec![series(&info, w, 0..60, |_| 1)]];
        let tally = compute(Meter::Cpu, &config, &catalog, w, &results);
        assert_eq!(
            micro(&tally, "a", Resource::SoftwareCores("pg".into()), w.start),
            Some(500_000)
        );
        Ok(())
    }

    #[test]
    fn quota_maps_resources() {
        let w = window();
        let config = MeteringConfig::default();
        let cpu = series(
            &[("namespace", "a"), ("resource", "requests.cpu")],
            w,
            0..60,
            |_| 2,
        );
        let mem = series(
            &[("namespace", "a"), ("resource", "requests.memory")],
            w,
            0..60,
            |_| 1 << 30,
        );
        let pods = series(
            &[("namespace", "a"), ("resource", "pods")],
            w,
            0..60,
            |_| 10,
        );
        let tally = compute(
            Meter::Quota,
            &config,
            &Catalog::default(),
            w,
            &[vec![cpu, mem, pods]],
        );
        assert_eq!(
            micro(&tally, "a", Resource::QuotaCpu, w.start),
            Some(7_200_000_000)
        );
        assert_eq!(
            micro(&tally, "a", Resource::QuotaMemory, w.start),
            Some(1_000_000)
        );
        assert_eq!(tally.len(), 2);
    }

    #[test]
    fn resource_names_round_trip() {
        for r in [
            Resource::Cpu,
            Resource::SoftwareCores("x".into()),
            Resource::SoftwareInstances("y".into()),
            Resource::UncataloguedInstances,
            Resource::QuotaStorage,
            Resource::TelecomInternal,
        ] {
            assert_eq!(Resource::parse(&r.to_string()), Some(r));
        }
        assert_eq!(Meter::from_name("telecom"), Some(Meter::Telecom));
    }
}
