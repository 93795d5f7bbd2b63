//! Leader election on a Lease against a real kube-apiserver: two replicas, one leads;
//! a crashed leader is replaced once its Lease expires, a released one at once; a
//! leader whose Lease is taken, or that can no longer renew it, reports `Lost`.
//!
//! Short durations (lease 3 s, renew 1 s) keep each test to a few seconds.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use akp_operator::leader::{LeaderElection, LeaderError, LeaderState};
use akp_test_support::{ControlPlane, Options, TestNamespace};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleBinding};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{DeleteParams, Patch, PatchParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const LEASE: &str = "akp-operator";
const LEASE_DURATION: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);

fn control_plane() -> &'static ControlPlane {
    ControlPlane::shared(Options::default())
        .expect("control plane starts (run tools/build.sh first)")
}

/// One operator replica's election.
struct Replica {
    id: &'static str,
    state: watch::Receiver<LeaderState>,
    task: JoinHandle<Result<(), LeaderError>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Replica {
    fn start(client: &Client, ns: &TestNamespace, id: &'static str) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (state, task) = LeaderElection::new(client.clone(), ns.name(), LEASE, id)
            .with_durations(LEASE_DURATION, RENEW)
            .unwrap()
            .spawn(async {
                let _ = stopped.await;
            });
        Self {
            id,
            state,
            task,
            stop: Some(stop),
        }
    }

    fn now(&self) -> LeaderState {
        *self.state.borrow()
    }

    /// Waits for `want`; how long it took.
    async fn wait_for(&mut self, want: LeaderState, within: Duration) -> Duration {
        let start = Instant::now();
        tokio::time::timeout(within, self.state.wait_for(|s| *s == want))
            .await
            .unwrap_or_else(|_| panic!("{} not {want:?} within {within:?}", self.id))
            .unwrap();
        start.elapsed()
    }

    /// Clean shutdown: the election releases the Lease if held.
    async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Starts two replicas and waits until one leads; (leader, follower).
async fn two_replicas(client: &Client, ns: &TestNamespace) -> (Replica, Replica) {
    let a = Replica::start(client, ns, "replica-a");
    let b = Replica::start(client, ns, "replica-b");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match (a.now(), b.now()) {
            (LeaderState::Leader, LeaderState::Follower) => return (a, b),
            (LeaderState::Follower, LeaderState::Leader) => return (b, a),
            (LeaderState::Follower, LeaderState::Follower) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            states => panic!("expected one leader within 5 s, got {states:?}"),
        }
    }
}

async fn lease(ns: &TestNamespace) -> Lease {
    ns.api::<Lease>().get(LEASE).await.unwrap()
}

fn holder_and_transitions(lease: &Lease) -> (Option<String>, Option<i32>) {
    let spec = lease.spec.clone().unwrap_or_default();
    (spec.holder_identity, spec.lease_transitions)
}

async fn setup(prefix: &str) -> (Client, TestNamespace) {
    let client = control_plane().admin_client().await.unwrap();
    let ns = TestNamespace::new(&client, prefix).await.unwrap();
    (client, ns)
}

#[tokio::test]
async fn exactly_one_replica_leads() {
    let (client, ns) = setup("leader-one").await;
    let (leader, follower) = two_replicas(&client, &ns).await;

    // Longer than a lease: renewals, not luck, keep the follower out.
    let until = Instant::now() + LEASE_DURATION + RENEW;
    while Instant::now() < until {
        assert_eq!(
            (leader.now(), follower.now()),
            (LeaderState::Leader, LeaderState::Follower)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lease = lease(&ns).await;
    assert_eq!(
        holder_and_transitions(&lease),
        (Some(leader.id.to_string()), Some(0)),
        "created by the leader, never changed hands"
    );
    let spec = lease.spec.unwrap();
    assert_eq!(spec.lease_duration_seconds, Some(3));
    let renewed = spec.renew_time.unwrap().0;
    let age = Timestamp::now().duration_since(renewed);
    assert!(
        age.unsigned_abs() < RENEW * 2,
        "renewed {age:?} ago, every {RENEW:?}"
    );

    follower.shut_down().await;
    leader.shut_down().await;
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_once_its_lease_expires() {
    let (client, ns) = setup("leader-crash").await;
    let (leader, mut follower) = two_replicas(&client, &ns).await;
    // Let the leader renew at least once, so the Lease is as a running leader leaves it.
    tokio::time::sleep(RENEW + Duration::from_millis(200)).await;

    // A crash: no release, the Lease stays held until it expires.
    leader.task.abort();
    let took = follower
        .wait_for(LeaderState::Leader, LEASE_DURATION * 2)
        .await;
    eprintln!("takeover after a crash: {took:?}");
    // The last renewal was at most one interval before the crash, so the Lease lived
    // on for at least lease - renew; then at most one poll interval more.
    assert!(
        took >= LEASE_DURATION - RENEW - Duration::from_millis(300),
        "took over after {took:?}, before the Lease expired"
    );
    assert!(
        took <= LEASE_DURATION + RENEW + Duration::from_millis(700),
        "took over after {took:?}"
    );
    assert_eq!(
        holder_and_transitions(&lease(&ns).await),
        (Some(follower.id.to_string()), Some(1))
    );

    follower.shut_down().await;
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_released_lease_is_taken_over_at_once() {
    let (client, ns) = setup("leader-release").await;
    let (leader, mut follower) = two_replicas(&client, &ns).await;
    let leader_id = leader.id;
    // Let the follower settle into polling after seeing a live holder.
    tokio::time::sleep(RENEW + Duration::from_millis(200)).await;

    let start = Instant::now();
    let mut leader_state = leader.state.clone();
    leader.shut_down().await;
    assert_eq!(*leader_state.borrow_and_update(), LeaderState::Follower);
    follower.wait_for(LeaderState::Leader, LEASE_DURATION).await;
    let took = start.elapsed();
    eprintln!("takeover after a release: {took:?}");
    // At the follower's next poll, well before the 3 s Lease could have expired.
    assert!(
        took <= RENEW + Duration::from_millis(700),
        "took over after {took:?}"
    );
    let lease = lease(&ns).await;
    assert_eq!(
        holder_and_transitions(&lease),
        (Some(follower.id.to_string()), Some(1)),
        "{leader_id} released it, then the follower took it"
    );

    follower.shut_down().await;
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_reports_lost() {
    let (client, ns) = setup("leader-stolen").await;
    let mut replica = Replica::start(&client, &ns, "replica-a");
    replica
        .wait_for(LeaderState::Leader, Duration::from_secs(5))
        .await;

    // Another holder writes itself in, as a replica that judged the Lease expired would.
    let theft = serde_json::json!({
        "spec": {
            "holderIdentity": "replica-thief",
            "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now()),
            "leaseDurationSeconds": 3,
        }
    });
    ns.api::<Lease>()
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&theft))
        .await
        .unwrap();
    let took = replica.wait_for(LeaderState::Lost, RENEW * 3).await;
    eprintln!("lost the stolen Lease after {took:?}");
    assert!(took <= RENEW + Duration::from_millis(700), "{took:?}");

    // Lost is final: the election stops, and leaves the new holder's Lease alone.
    tokio::time::timeout(Duration::from_secs(2), replica.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::time::sleep(RENEW).await;
    assert_eq!(
        holder_and_transitions(&lease(&ns).await).0.as_deref(),
        Some("replica-thief")
    );
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn a_leader_that_cannot_renew_reports_lost_before_the_lease_expires() {
    let (_admin, ns) = setup("leader-cut-off").await;
    // A replica whose rights on Leases the test can take away, as a network partition
    // from the API server would.
    ns.grant(
        "leases",
        "User",
        "replica-a",
        vec![PolicyRule {
            api_groups: Some(vec!["coordination.k8s.io".into()]),
            resources: Some(vec!["leases".into()]),
            verbs: vec!["get".into(), "create".into(), "update".into()],
            ..PolicyRule::default()
        }],
    )
    .await
    .unwrap();
    let client = control_plane().client_for("replica-a", &[]).await.unwrap();
    let mut replica = Replica::start(&client, &ns, "replica-a");
    // Rounds fail until the authorizer has seen the binding; the election retries.
    replica
        .wait_for(LeaderState::Leader, Duration::from_secs(10))
        .await;

    ns.api::<RoleBinding>()
        .delete("leases", &DeleteParams::default())
        .await
        .unwrap();
    let took = replica
        .wait_for(LeaderState::Lost, LEASE_DURATION * 2)
        .await;
    eprintln!("lost after being cut off: {took:?}");
    // The renew deadline (lease - renew = 2 s) runs from the last renewal, at most one
    // interval before the cut; Lost comes before anyone else could take the Lease.
    assert!(
        took <= LEASE_DURATION - RENEW + Duration::from_millis(500),
        "{took:?}"
    );
    let spec = lease(&ns).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    let expiry = spec.renew_time.unwrap().0 + Duration::from_secs(3);
    assert!(
        Timestamp::now() < expiry,
        "Lost only after the Lease expired at {expiry}"
    );
    ns.delete().await.unwrap();
}
