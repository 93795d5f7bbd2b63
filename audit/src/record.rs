//! What one audit record holds, and the hash that chains it to the one before.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use akp_rules::audit::*;

/// What the actor's action came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// An admission request let through.
    Allowed,
    /// An admission request refused (or a rule that could not be checked: fail closed).
    Denied,
    /// An action carried out.
    Done,
    /// An action that failed.
    Failed,
}

impl Decision {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Done => "done",
            Decision::Failed => "failed",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision spelt other than allowed, denied, done or failed.
#[derive(Debug, thiserror::Error)]
#[error("decision {0:?} is not one of allowed, denied, done, failed")]
pub struct UnknownDecision(pub String);

impl FromStr for Decision {
    type Err = UnknownDecision;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allowed" => Ok(Decision::Allowed),
            "denied" => Ok(Decision::Denied),
            "done" => Ok(Decision::Done),
            "failed" => Ok(Decision::Failed),
            other => Err(UnknownDecision(other.to_owned())),
        }
    }
}

/// The object acted on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// Its kind, e.g. `PlatformSoftwareProduct`, `Pod`, `BillingReport`, `LedgerMonth`.
    pub kind: String,
    /// Its namespace; empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its UID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl Object {
    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: None,
        }
    }

    /// A cluster-scoped object.
    pub fn cluster(kind: &str, name: &str) -> Self {
        Self::namespaced(kind, "", name)
    }

    /// With its UID.
    #[must_use]
    pub fn with_uid(mut self, uid: Option<String>) -> Self {
        self.uid = uid.filter(|u| !u.is_empty());
        self
    }

    /// `kind/namespace/name`, or `kind/name` when cluster-scoped: what `--object` matches.
    pub fn path(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One audit record: when, who, what action on which object, what came of it, why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// When, UTC, to the microsecond, from the system clock (synchronized by NTP on
    /// the nodes: docs/audit.md).
    pub time: Timestamp,
    /// Who: the requesting user (from the AdmissionReview's `userInfo`), or the
    /// component that acted (`akp-operator`, `akp-billing`).
    pub actor: String,
    /// What kind of action (the constants of this module).
    pub action: String,
    /// On what.
    pub object: Object,
    /// What came of it.
    pub decision: Decision,
    /// Why, or what happened, for people.
    #[serde(default)]
    pub reason: String,
    /// Anything else worth keeping (JSON object).
    #[serde(default)]
    pub details: Value,
}

impl Record {
    /// A record of now, with no reason and no details.
    pub fn new(actor: &str, action: &str, object: Object, decision: Decision) -> Self {
        Self {
            time: micros(Timestamp::now()),
            actor: actor.into(),
            action: action.into(),
            object,
            decision,
            reason: String::new(),
            details: Value::Null,
        }
    }

    /// With a reason.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// With details.
    #[must_use]
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// At `time` (tests and replays), truncated to the microsecond as stored.
    #[must_use]
    pub fn at(mut self, time: Timestamp) -> Self {
        self.time = micros(time);
        self
    }

    /// The time in microseconds since the Unix epoch, as stored.
    pub fn time_us(&self) -> i64 {
        self.time.as_microsecond()
    }

    /// Logs the record on the tracing target [`crate::TRACING_TARGET`].
    pub fn log(&self) {
        tracing::info!(
            target: crate::TRACING_TARGET,
            actor = %self.actor,
            action = %self.action,
            object = %self.object.path(),
            decision = %self.decision,
            reason = %self.reason,
            details = %canonical_json(&self.details),
            "audit"
        );
    }
}

/// Truncates to the microsecond: what the database keeps.
pub fn micros(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// A record as stored: its place in the chain and the hashes that bind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Its sequence number: 1, 2, … without gaps.
    pub seq: i64,
    /// The record.
    #[serde(flatten)]
    pub record: Record,
    /// The hash of the record before (empty for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash` and this record's fields.
    pub hash: String,
}

impl Entry {
    /// Chains `record` after `prev_hash` as number `seq`.
    pub fn chain(seq: i64, record: Record, prev_hash: &str) -> Self {
        let hash = entry_hash(seq, &record, prev_hash);
        Self {
            seq,
            record,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// Whether the stored hash is the hash of what is stored.
    pub fn hash_matches(&self) -> bool {
        entry_hash(self.seq, &self.record, &self.prev_hash) == self.hash
    }
}

/// The hash of one entry: every field length-prefixed, so no two different records
/// give the same input; details in canonical JSON (keys sorted).
pub fn entry_hash(seq: i64, r: &Record, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&r.time_us().to_be_bytes());
    field(r.actor.as_bytes());
    field(r.action.as_bytes());
    field(r.object.kind.as_bytes());
    field(r.object.namespace.as_bytes());
    field(r.object.name.as_bytes());
    field(r.object.uid.as_deref().unwrap_or("").as_bytes());
    field(r.decision.as_str().as_bytes());
    field(r.reason.as_bytes());
    field(canonical_json(&r.details).as_bytes());
    hex::encode(h.finalize())
}

/// JSON with object keys sorted at every level, whatever map the build of serde_json
/// uses: the same value always gives the same text.
pub fn canonical_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    if let Some(x) = map.get(k) {
                        out.insert(k.clone(), sorted(x));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sorted(v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::new(
            "alice@mon.gov.kz",
            ADMISSION_DECISION,
            Object::namespaced("Pod", "mon-x-development", "web"),
            Decision::Denied,
        )
        .reason("spec.nodeSelector ... (R-PLC-01): remove it")
        .details(serde_json::json!({"b": 1, "a": [true, {"d": 2, "c": 3}]}))
        .at("2026-11-22T08:00:00.123456789Z".parse().expect("time"))
    }

    #[test]
    fn r_mon_02_the_hash_covers_every_field_and_the_previous_hash() {
        let e = Entry::chain(7, sample(), "abc");
        assert!(e.hash_matches());
        assert_eq!(e.record.time_us() % 1_000_000, 123_456, "kept to the µs");
        let mut changes: Vec<Entry> = Vec::new();
        for f in 0..9 {
            let mut x = e.clone();
            match f {
                0 => x.seq = 8,
                1 => x.prev_hash = "abd".into(),
                2 => x.record.actor.push('x'),
                3 => x.record.action.push('x'),
                4 => x.record.object.name.push('x'),
                5 => x.record.decision = Decision::Allowed,
                6 => x.record.reason.push('x'),
                7 => x.record.details["b"] = 2.into(),
                _ => {
                    x.record = x
                        .record
                        .clone()
                        .at("2026-11-22T08:00:01Z".parse().expect("t"))
                }
            }
            changes.push(x);
        }
        for x in changes {
            assert!(!x.hash_matches(), "a change goes unnoticed: {x:?}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        assert_eq!(
            canonical_json(&sample().details),
            r#"{"a":[true,{"c":3,"d":2}],"b":1}"#
        );
    }

    #[test]
    fn decisions_round_trip() {
        for d in [
            Decision::Allowed,
            Decision::Denied,
            Decision::Done,
            Decision::Failed,
        ] {
            assert_eq!(d.as_str().parse::<Decision>().expect("parses"), d);
        }
        assert!("maybe".parse::<Decision>().is_err());
    }
}
