//! Events about software whose register documents expire soon (R-SW-02): a Warning on
//! the product (or the environment namespace) that uses it, at most once a day per
//! product and catalog item, published in the background so that admission does not
//! wait on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder};

use super::verdict::ExpiringSoftware;

/// The reason of the Warning event.
pub const EXPIRING_REASON: &str = "SoftwareDocumentsExpiring";

/// Gives up on publishing an event after this long; the metric and the admission
/// warning have told it already.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// (kind, namespace, name) of what the event is about, and the catalog item.
type Key = (String, String, String, String);

/// Publishes the R-SW-02 Warning events, each at most once a day.
#[derive(Clone)]
pub struct ExpiryNotices {
    recorder: Recorder,
    sent: Arc<Mutex<HashMap<Key, Date>>>,
}

impl std::fmt::Debug for ExpiryNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiryNotices").finish_non_exhaustive()
    }
}

impl ExpiryNotices {
    /// Notices written with `client`, reported as the operator.
    pub fn new(client: Client) -> Self {
        Self {
            recorder: Recorder::new(client, crate::telemetry::reporter(None)),
            sent: Arc::default(),
        }
    }

    /// The uses of `expiring` not yet told today, marking them told.
    fn due(&self, expiring: &[ExpiringSoftware], today: Date) -> Vec<ExpiringSoftware> {
        let Ok(mut sent) = self.sent.lock() else {
            // A panic elsewhere poisoned the map: publish rather than stay silent.
            return expiring.to_vec();
        };
        sent.retain(|_, day| *day == today);
        expiring
            .iter()
            .filter(|e| {
                let r = &e.regarding;
                let key = (
                    r.kind.clone().unwrap_or_default(),
                    r.namespace.clone().unwrap_or_default(),
                    r.name.clone().unwrap_or_default(),
                    e.item.clone(),
                );
                sent.insert(key, today).is_none()
            })
            .cloned()
            .collect()
    }

    /// Publishes a Warning for each use of `expiring` not yet told today, in the
    /// background.
    pub fn publish(&self, expiring: &[ExpiringSoftware], today: Date) {
        for notice in self.due(expiring, today) {
            let recorder = self.recorder.clone();
            tokio::spawn(async move {
                let event = Event {
                    type_: EventType::Warning,
                    reason: EXPIRING_REASON.into(),
                    note: Some(notice.note.clone()),
                    action: "Admit".into(),
                    secondary: None,
                };
                match tokio::time::timeout(
                    PUBLISH_TIMEOUT,
                    recorder.publish(&event, &notice.regarding),
                )
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(item = %notice.item, "publishing the expiry event failed: {e}");
                    }
                    Err(_) => {
                        tracing::warn!(item = %notice.item, "publishing the expiry event timed out");
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn expiring(product: &str, item: &str) -> ExpiringSoftware {
        ExpiringSoftware {
            item: item.into(),
            regarding: ObjectReference {
                kind: Some("PlatformSoftwareProduct".into()),
                namespace: Some("agency-mon".into()),
                name: Some(product.into()),
                ..ObjectReference::default()
            },
            note: "expires".into(),
        }
    }

    #[tokio::test]
    async fn r_sw_02_each_product_and_item_is_told_once_a_day() {
        // The client is never used: `due` is the pure part.
        let config = kube::Config::new("https://127.0.0.1:1".parse().expect("url"));
        let notices = ExpiryNotices::new(Client::try_from(config).expect("client"));
        let day = jiff::civil::date(2026, 11, 22);
        let uses = [expiring("a", "redis-7"), expiring("b", "redis-7")];
        assert_eq!(notices.due(&uses, day).len(), 2);
        assert!(notices.due(&uses, day).is_empty());
        assert_eq!(
            notices.due(&uses[..1], day.tomorrow().expect("day")).len(),
            1
        );
    }
}
