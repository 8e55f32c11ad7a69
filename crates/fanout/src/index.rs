//! The routing index: which webhooks an event goes to.

use std::collections::HashMap;

use herald_contract::{EventType, EventTypeSet, TenantId, WebhookId};
use herald_store::WebhookRoute;

#[derive(Debug, Clone)]
struct Subscription {
    webhook_id: WebhookId,
    event_types: EventTypeSet,
}

/// Enabled webhooks by tenant, with the event types each subscribes to.
#[derive(Debug, Clone, Default)]
pub struct RoutingIndex {
    by_tenant: HashMap<TenantId, Vec<Subscription>>,
    tenant_of: HashMap<WebhookId, TenantId>,
}

impl RoutingIndex {
    /// An index of `routes`; disabled webhooks are left out.
    pub fn from_routes(routes: impl IntoIterator<Item = WebhookRoute>) -> Self {
        let mut index = Self::default();
        for route in routes {
            index.upsert(route);
        }
        index
    }

    /// Adds or replaces a webhook's route; a disabled webhook is removed.
    pub fn upsert(&mut self, route: WebhookRoute) {
        self.remove(&route.id);
        if !route.enabled || route.event_types.is_empty() {
            return;
        }
        self.tenant_of
            .insert(route.id.clone(), route.tenant_id.clone());
        self.by_tenant
            .entry(route.tenant_id)
            .or_default()
            .push(Subscription {
                webhook_id: route.id,
                event_types: route.event_types,
            });
    }

    /// Removes a webhook, if present.
    pub fn remove(&mut self, id: &WebhookId) {
        let Some(tenant) = self.tenant_of.remove(id) else {
            return;
        };
        if let Some(subscriptions) = self.by_tenant.get_mut(&tenant) {
            subscriptions.retain(|subscription| &subscription.webhook_id != id);
            if subscriptions.is_empty() {
                self.by_tenant.remove(&tenant);
            }
        }
    }

    /// The enabled webhooks of `tenant` subscribed to `event_type`.
    pub fn matching(&self, tenant: &TenantId, event_type: EventType) -> Vec<WebhookId> {
        self.by_tenant
            .get(tenant)
            .map(|subscriptions| {
                subscriptions
                    .iter()
                    .filter(|subscription| subscription.event_types.contains(event_type))
                    .map(|subscription| subscription.webhook_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many webhooks the index routes to.
    pub fn len(&self) -> usize {
        self.tenant_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tenant_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(tenant: &str, types: &[EventType], enabled: bool) -> WebhookRoute {
        WebhookRoute {
            id: WebhookId::generate(),
            tenant_id: tenant.parse().expect("tenant"),
            event_types: types.iter().copied().collect(),
            enabled,
        }
    }

    fn tenant(name: &str) -> TenantId {
        name.parse().expect("tenant")
    }

    #[test]
    fn an_event_matches_only_enabled_webhooks_of_its_tenant_subscribed_to_its_type() {
        let subscribed = route(
            "acme",
            &[EventType::ContactCreated, EventType::ContactUpdated],
            true,
        );
        let also_subscribed = route("acme", &[EventType::ContactCreated], true);
        let other_type = route("acme", &[EventType::CompanyCreated], true);
        let disabled = route("acme", &[EventType::ContactCreated], false);
        let other_tenant = route("globex", &[EventType::ContactCreated], true);
        let index = RoutingIndex::from_routes([
            subscribed.clone(),
            also_subscribed.clone(),
            other_type,
            disabled,
            other_tenant,
        ]);

        let mut matched = index.matching(&tenant("acme"), EventType::ContactCreated);
        matched.sort();

        let mut expected = vec![subscribed.id, also_subscribed.id];
        expected.sort();
        assert_eq!(matched, expected);
        assert_eq!(index.len(), 4);
        assert!(
            index
                .matching(&tenant("initech"), EventType::ContactCreated)
                .is_empty()
        );
    }

    #[test]
    fn changes_replace_the_previous_route_and_disabling_removes_it() {
        let mut webhook = route("acme", &[EventType::ContactCreated], true);
        let mut index = RoutingIndex::from_routes([webhook.clone()]);

        webhook.event_types = [EventType::CompanyCreated].into_iter().collect();
        index.upsert(webhook.clone());
        assert!(
            index
                .matching(&tenant("acme"), EventType::ContactCreated)
                .is_empty()
        );
        assert_eq!(
            index.matching(&tenant("acme"), EventType::CompanyCreated),
            vec![webhook.id.clone()]
        );

        webhook.enabled = false;
        index.upsert(webhook.clone());
        assert!(
            index
                .matching(&tenant("acme"), EventType::CompanyCreated)
                .is_empty()
        );
        assert!(index.is_empty());
    }

    #[test]
    fn removing_a_webhook_leaves_the_others() {
        let gone = route("acme", &[EventType::BasketSubmitted], true);
        let stays = route("acme", &[EventType::BasketSubmitted], true);
        let mut index = RoutingIndex::from_routes([gone.clone(), stays.clone()]);
        index.remove(&gone.id);
        index.remove(&WebhookId::generate());
        assert_eq!(
            index.matching(&tenant("acme"), EventType::BasketSubmitted),
            vec![stays.id]
        );
    }
}
