//! Leader election on a `coordination.k8s.io/v1` Lease.
//!
//! Two operator replicas run; the one holding the Lease acts. The protocol is
//! client-go's: a replica takes the Lease when it is absent, free (no holder) or
//! expired (`renewTime + leaseDurationSeconds` is past), the holder renews it every
//! `renew_interval`, and every write is a `replace` carrying the `resourceVersion`
//! read just before, so two replicas can never both win the same round.
//! `leaseTransitions` counts changes of holder. On clean shutdown the holder clears
//! the holder field, so another replica takes over at its next poll instead of
//! waiting for the Lease to expire.
//!
//! A leader that sees another holder, or cannot renew before its renew deadline,
//! reports [`LeaderState::Lost`] and stops; the caller exits the process, as
//! linkerd's policy controller does, so a replica never acts on a stale belief.
//!
//! Expiry compares the `renewTime` written by the holder with this replica's clock,
//! so the replicas' clocks must agree to within the margin of
//! `lease_duration - renew_deadline` (one renew interval); a leader that lost its
//! Lease to clock skew still learns it at its next renewal.
//!
//! We do not use the `kube-lease-manager` crate (which does support kube 5 and
//! k8s-openapi 0.29): its leader keeps reporting that it leads while it cannot reach
//! the API server, and it renews by a blind patch that would write our `renewTime`
//! into a Lease another replica has taken.

use std::future::Future;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Default time a Lease stays valid after its last renewal.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// Default interval between renewals (leader) and polls (followers).
pub const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(2);

/// Pause before re-reading a Lease that changed between our read and our write.
const CONFLICT_RETRY: Duration = Duration::from_millis(100);

/// Whether this replica leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaderState {
    /// Another replica leads, or nobody yet; keep waiting.
    Follower,
    /// This replica holds the Lease and may act.
    Leader,
    /// This replica led and no longer does (another holder, or no renewal within the
    /// renew deadline). Final: the election has stopped and the process should exit.
    Lost,
}

impl LeaderState {
    /// Whether this replica may act now.
    pub fn is_leader(self) -> bool {
        self == Self::Leader
    }
}

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The durations cannot make a safe election.
    #[error(
        "invalid lease durations (lease {lease:?}, renew {renew:?}): the lease must be \
         whole seconds, at least 1 s, and the renew interval more than zero and less \
         than half the lease, so that a leader may miss a renewal without losing"
    )]
    InvalidDurations {
        /// The lease duration asked for.
        lease: Duration,
        /// The renew interval asked for.
        renew: Duration,
    },
    /// Releasing the Lease on shutdown failed; the other replica takes over when it
    /// expires instead.
    #[error("releasing Lease {namespace}/{name}: {source}")]
    Release {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// What the API server said.
        #[source]
        source: kube::Error,
    },
    /// Releasing the Lease on shutdown did not finish in time.
    #[error("releasing Lease {namespace}/{name}: timed out after {after:?}")]
    ReleaseTimedOut {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// How long we waited.
        after: Duration,
    },
}

/// A leader election on one Lease, for one replica (its `identity`).
#[derive(Clone)]
pub struct LeaderElection {
    client: Client,
    namespace: String,
    name: String,
    identity: String,
    lease_duration: Duration,
    renew_interval: Duration,
}

impl std::fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElection")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("lease_duration", &self.lease_duration)
            .field("renew_interval", &self.renew_interval)
            .finish_non_exhaustive()
    }
}

/// What one round of acquire-or-renew found.
#[derive(Debug)]
enum Round {
    /// We hold the Lease, renewed just now.
    Held,
    /// Another replica holds an unexpired Lease.
    HeldByOther(String),
    /// Someone wrote the Lease between our read and our write; read again.
    Conflict,
}

impl LeaderElection {
    /// An election on Lease `namespace/name` for the replica `identity` (unique per
    /// replica, e.g. the Pod name), with [`DEFAULT_LEASE_DURATION`] and
    /// [`DEFAULT_RENEW_INTERVAL`].
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_interval: DEFAULT_RENEW_INTERVAL,
        }
    }

    /// Sets the lease duration (whole seconds, as the Lease stores it) and the renew
    /// interval (less than half the lease).
    pub fn with_durations(mut self, lease: Duration, renew: Duration) -> Result<Self, LeaderError> {
        let whole_seconds = lease.subsec_nanos() == 0
            && lease >= Duration::from_secs(1)
            && i32::try_from(lease.as_secs()).is_ok();
        if !whole_seconds || renew.is_zero() || renew * 2 >= lease {
            return Err(LeaderError::InvalidDurations { lease, renew });
        }
        self.lease_duration = lease;
        self.renew_interval = renew;
        Ok(self)
    }

    /// This replica's identity, as written to `holderIdentity`.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How long a leader may go without a successful renewal before it reports
    /// [`LeaderState::Lost`]: one renew interval short of the lease duration, so it
    /// stops acting before any other replica may take over.
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration.saturating_sub(self.renew_interval)
    }

    /// Runs the election on a task of its own until `shutdown` resolves (then the
    /// Lease is released if held) or leadership is lost.
    ///
    /// The receiver starts at [`LeaderState::Follower`], and returns to it after the
    /// release on shutdown. Stop acting before resolving `shutdown`: the other
    /// replica may take over as soon as the Lease is released.
    /// API errors are logged and retried; the task's error is only that of the
    /// release.
    pub fn spawn(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (
        watch::Receiver<LeaderState>,
        JoinHandle<Result<(), LeaderError>>,
    ) {
        let (tx, rx) = watch::channel(LeaderState::Follower);
        let task = tokio::spawn(self.run(tx, shutdown));
        (rx, task)
    }

    async fn run(
        self,
        tx: watch::Sender<LeaderState>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), LeaderError> {
        let api = Api::<Lease>::namespaced(self.client.clone(), &self.namespace);
        let deadline = self.renew_deadline();
        tokio::pin!(shutdown);
        // While leading: when the last successful renewal started.
        let mut renewed_at: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let round = tokio::select! {
                biased;
                () = &mut shutdown => return self.release_bounded(&api, &tx).await,
                () = sleep_until_lost(renewed_at, deadline) => return self.lost_renewal(&tx),
                round = self.acquire_or_renew(&api) => round,
            };
            let mut next_round = started + self.renew_interval;
            match round {
                Ok(Round::Held) => {
                    if renewed_at.is_none() {
                        tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                        tx.send_replace(LeaderState::Leader);
                    }
                    renewed_at = Some(started);
                }
                Ok(Round::HeldByOther(holder)) => {
                    if renewed_at.is_some() {
                        tracing::warn!(lease = %self.name, identity = %self.identity, %holder,
                            "leadership lost: another replica holds the Lease");
                        tx.send_replace(LeaderState::Lost);
                        return Ok(());
                    }
                    tracing::debug!(lease = %self.name, %holder, "following");
                }
                Ok(Round::Conflict) => {
                    // Someone wrote between our read and write: read again soon rather
                    // than a whole interval later, which a leader may not afford.
                    tracing::debug!(lease = %self.name, "Lease changed under us, retrying");
                    next_round = Instant::now() + CONFLICT_RETRY;
                }
                Err(e) => {
                    tracing::warn!(lease = %self.name, identity = %self.identity, error = %e,
                        "leader election round failed, retrying");
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => return self.release_bounded(&api, &tx).await,
                () = sleep_until_lost(renewed_at, deadline) => return self.lost_renewal(&tx),
                () = tokio::time::sleep_until(next_round) => {}
            }
        }
    }

    /// Reports that the renew deadline passed without a successful renewal.
    fn lost_renewal(&self, tx: &watch::Sender<LeaderState>) -> Result<(), LeaderError> {
        tracing::warn!(
            lease = %self.name,
            identity = %self.identity,
            deadline = ?self.renew_deadline(),
            "leadership lost: the Lease was not renewed in time"
        );
        tx.send_replace(LeaderState::Lost);
        Ok(())
    }

    /// One round: create the Lease if absent, take it if free or expired, renew it if
    /// ours.
    async fn acquire_or_renew(&self, api: &Api<Lease>) -> Result<Round, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.held_spec(now, 0)),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Round::Held),
                Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(Round::Conflict),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        match holder {
            Some(h) if h == self.identity => {
                spec.renew_time = Some(MicroTime(now));
                spec.lease_duration_seconds = Some(self.lease_duration_seconds());
            }
            Some(h) if !self.expired(spec, now) => return Ok(Round::HeldByOther(h)),
            _ => {
                let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
                *spec = LeaseSpec {
                    // Kept: set by others (e.g. coordinated leader election).
                    preferred_holder: spec.preferred_holder.take(),
                    strategy: spec.strategy.take(),
                    ..self.held_spec(now, transitions)
                };
            }
        }
        // The resourceVersion read above makes this conditional.
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Round::Held),
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(Round::Conflict),
            Err(e) => Err(e),
        }
    }

    fn held_spec(&self, now: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(self.lease_duration_seconds()),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Whether the holder's Lease has run out: `renewTime + leaseDurationSeconds < now`.
    /// No `renewTime` means never renewed, so expired; a missing or non-positive
    /// duration is read as ours, the only one this operator writes.
    fn expired(&self, spec: &LeaseSpec, now: Timestamp) -> bool {
        let Some(MicroTime(renewed)) = spec.renew_time else {
            return true;
        };
        let seconds = spec
            .lease_duration_seconds
            .filter(|s| *s > 0)
            .unwrap_or_else(|| self.lease_duration_seconds());
        // Overflow means a renewTime far in the future: not expired.
        renewed
            .checked_add(SignedDuration::from_secs(i64::from(seconds)))
            .is_ok_and(|expiry| expiry < now)
    }

    fn lease_duration_seconds(&self) -> i32 {
        // Validated by `with_durations`; the defaults are small.
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// Releases the Lease, bounded in time so shutdown cannot hang on the API server.
    async fn release_bounded(
        &self,
        api: &Api<Lease>,
        tx: &watch::Sender<LeaderState>,
    ) -> Result<(), LeaderError> {
        let after = self.renew_deadline();
        let result = match tokio::time::timeout(after, self.release(api)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(LeaderError::Release {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                source,
            }),
            Err(_) => Err(LeaderError::ReleaseTimedOut {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                after,
            }),
        };
        tx.send_replace(LeaderState::Follower);
        result
    }

    /// Clears the holder if it is us; the check is on the server's copy, since a
    /// round cut short by shutdown may have taken the Lease without our knowing.
    async fn release(&self, api: &Api<Lease>) -> Result<(), kube::Error> {
        loop {
            let Some(mut lease) = api.get_opt(&self.name).await? else {
                return Ok(());
            };
            let Some(spec) = lease.spec.as_mut() else {
                return Ok(());
            };
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.acquire_time = None;
            spec.renew_time = None;
            match api
                .replace(&self.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "released the Lease");
                    return Ok(());
                }
                // Written meanwhile (by us, renewing, it cannot be): look again.
                Err(kube::Error::Api(s)) if s.is_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Resolves when a leader's renew deadline passes; never for a follower.
async fn sleep_until_lost(renewed_at: Option<Instant>, deadline: Duration) {
    match renewed_at {
        Some(at) => tokio::time::sleep_until(at + deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn election() -> LeaderElection {
        // A client that is never used: these tests exercise pure logic.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        LeaderElection::new(client, "ns", "lease", "me")
    }

    #[tokio::test]
    async fn durations_are_validated() {
        let e = election();
        assert!(
            e.clone()
                .with_durations(Duration::from_secs(3), Duration::from_secs(1))
                .is_ok()
        );
        for (lease, renew) in [
            (Duration::from_millis(2500), Duration::from_millis(500)),
            (Duration::ZERO, Duration::ZERO),
            (Duration::from_secs(3), Duration::ZERO),
            (Duration::from_secs(2), Duration::from_secs(1)),
        ] {
            assert!(
                e.clone().with_durations(lease, renew).is_err(),
                "{lease:?} {renew:?}"
            );
        }
        let e = e
            .with_durations(Duration::from_secs(10), Duration::from_secs(2))
            .unwrap();
        assert_eq!(e.renew_deadline(), Duration::from_secs(8));
    }

    #[tokio::test]
    async fn expiry_uses_renew_time_and_duration() {
        let e = election();
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let spec = |renew: Option<&str>, seconds: Option<i32>| LeaseSpec {
            holder_identity: Some("other".into()),
            renew_time: renew.map(|r| MicroTime(r.parse().unwrap())),
            lease_duration_seconds: seconds,
            ..LeaseSpec::default()
        };
        assert!(!e.expired(&spec(Some("2026-03-01T09:59:58Z"), Some(3)), now));
        assert!(e.expired(&spec(Some("2026-03-01T09:59:56.999999Z"), Some(3)), now));
        assert!(e.expired(&spec(None, Some(3)), now));
        // Missing duration: ours (15 s).
        assert!(!e.expired(&spec(Some("2026-03-01T09:59:50Z"), None), now));
        assert!(e.expired(&spec(Some("2026-03-01T09:59:40Z"), Some(0)), now));
        // A renewal in the future (clock skew) is not expired.
        assert!(!e.expired(&spec(Some("2026-03-01T10:00:05Z"), Some(3)), now));
    }
}
