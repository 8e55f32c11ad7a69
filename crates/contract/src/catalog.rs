//! The catalog of event types: the one place that knows which events exist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A domain event type a webhook can subscribe to.
///
/// Serialised as its kebab-case name (`contact-created`), which is also the routing key
/// platform services publish it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    BasketSubmitted,
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    CompanyCreated,
    CompanyUpdated,
    CompanyDeleted,
    CompanyNoteCreated,
    CompanyNoteUpdated,
    CompanyNoteDeleted,
}

impl EventType {
    /// Every event type, in catalog order.
    pub const ALL: [EventType; 10] = [
        EventType::BasketSubmitted,
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactDeleted,
        EventType::CompanyCreated,
        EventType::CompanyUpdated,
        EventType::CompanyDeleted,
        EventType::CompanyNoteCreated,
        EventType::CompanyNoteUpdated,
        EventType::CompanyNoteDeleted,
    ];

    /// The wire name, e.g. `company-note-created`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::BasketSubmitted => "basket-submitted",
            EventType::ContactCreated => "contact-created",
            EventType::ContactUpdated => "contact-updated",
            EventType::ContactDeleted => "contact-deleted",
            EventType::CompanyCreated => "company-created",
            EventType::CompanyUpdated => "company-updated",
            EventType::CompanyDeleted => "company-deleted",
            EventType::CompanyNoteCreated => "company-note-created",
            EventType::CompanyNoteUpdated => "company-note-updated",
            EventType::CompanyNoteDeleted => "company-note-deleted",
        }
    }

    /// When the platform emits this event, in one sentence.
    pub const fn description(self) -> &'static str {
        match self {
            EventType::BasketSubmitted => "Someone submits a basket.",
            EventType::ContactCreated => "A contact is created.",
            EventType::ContactUpdated => "A contact is changed.",
            EventType::ContactDeleted => "A contact is removed.",
            EventType::CompanyCreated => "A company is created.",
            EventType::CompanyUpdated => "A company is changed.",
            EventType::CompanyDeleted => "A company is removed.",
            EventType::CompanyNoteCreated => "A note is attached to a company.",
            EventType::CompanyNoteUpdated => "A note on a company is updated.",
            EventType::CompanyNoteDeleted => "A note is removed from a company.",
        }
    }

    /// A representative `data` object, sent by test deliveries.
    pub fn sample_data(self) -> Value {
        match self {
            EventType::BasketSubmitted => json!({
                "basketId": "BASK-1001",
                "contactId": "CONT-123",
                "currency": "EUR",
                "total": 129.5,
                "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": 64.75}]
            }),
            EventType::ContactCreated | EventType::ContactUpdated => json!({
                "contactId": "CONT-123",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": "ada@example.com"
            }),
            EventType::ContactDeleted => json!({"contactId": "CONT-123"}),
            EventType::CompanyCreated | EventType::CompanyUpdated => json!({
                "companyId": "COMP-42",
                "name": "Analytical Engines Ltd",
                "website": "https://example.com"
            }),
            EventType::CompanyDeleted => json!({"companyId": "COMP-42"}),
            EventType::CompanyNoteCreated | EventType::CompanyNoteUpdated => json!({
                "companyId": "COMP-42",
                "noteId": "NOTE-7",
                "text": "Called about the renewal."
            }),
            EventType::CompanyNoteDeleted => json!({"companyId": "COMP-42", "noteId": "NOTE-7"}),
        }
    }

    /// The entity a sample event of this type is about.
    pub fn sample_entity_id(self) -> &'static str {
        match self {
            EventType::BasketSubmitted => "BASK-1001",
            EventType::ContactCreated | EventType::ContactUpdated | EventType::ContactDeleted => {
                "CONT-123"
            }
            EventType::CompanyCreated | EventType::CompanyUpdated | EventType::CompanyDeleted => {
                "COMP-42"
            }
            EventType::CompanyNoteCreated
            | EventType::CompanyNoteUpdated
            | EventType::CompanyNoteDeleted => "NOTE-7",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|event_type| event_type.as_str() == name)
            .ok_or_else(|| UnknownEventType(name.to_owned()))
    }
}

/// A set of event types, as one bit per type: what a webhook subscribes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventTypeSet(u16);

impl EventTypeSet {
    /// Whether the set holds `event_type`.
    pub const fn contains(self, event_type: EventType) -> bool {
        self.0 & event_type.bit() != 0
    }

    /// Adds `event_type` to the set.
    pub fn insert(&mut self, event_type: EventType) {
        self.0 |= event_type.bit();
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in catalog order.
    pub fn iter(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .into_iter()
            .filter(move |event_type| self.contains(*event_type))
    }
}

impl FromIterator<EventType> for EventTypeSet {
    fn from_iter<I: IntoIterator<Item = EventType>>(iter: I) -> Self {
        let mut set = EventTypeSet::default();
        for event_type in iter {
            set.insert(event_type);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for event_type in EventType::ALL {
            assert_eq!(event_type.as_str().parse::<EventType>(), Ok(event_type));
            let json = serde_json::to_string(&event_type).expect("serialises");
            assert_eq!(json, format!("\"{}\"", event_type.as_str()));
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            "contact-merged".parse::<EventType>(),
            Err(UnknownEventType("contact-merged".into()))
        );
        assert!("Contact-Created".parse::<EventType>().is_err());
    }

    #[test]
    fn a_set_holds_exactly_what_was_inserted() {
        let set: EventTypeSet = [EventType::ContactCreated, EventType::CompanyNoteDeleted]
            .into_iter()
            .collect();
        assert!(set.contains(EventType::ContactCreated));
        assert!(set.contains(EventType::CompanyNoteDeleted));
        assert!(!set.contains(EventType::BasketSubmitted));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![EventType::ContactCreated, EventType::CompanyNoteDeleted]
        );
    }

    #[test]
    fn every_type_has_a_sample_object() {
        for event_type in EventType::ALL {
            assert!(event_type.sample_data().is_object());
            assert!(!event_type.description().is_empty());
        }
    }
}
