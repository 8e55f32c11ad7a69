//! The catalog of event types: the one place that knows which events exist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Declares the catalog: one entry per event type, and everything about it derived from there.
macro_rules! catalog {
    (
        $(
            $variant:ident => $name:literal, $description:literal,
            entity $entity:literal, sample $sample:tt;
        )+
    ) => {
        /// A domain event type a webhook can subscribe to.
        ///
        /// Serialised as its kebab-case name (`contact-created`), which is also the routing key
        /// platform services publish it under.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $( #[serde(rename = $name)] $variant, )+
        }

        impl EventType {
            /// Every event type, in catalog order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The wire name, e.g. `company-note-created`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            /// When the platform emits this event, in one sentence.
            pub const fn description(self) -> &'static str {
                match self {
                    $(EventType::$variant => $description,)+
                }
            }

            /// The entity a sample event of this type is about.
            pub const fn sample_entity_id(self) -> &'static str {
                match self {
                    $(EventType::$variant => $entity,)+
                }
            }

            /// A representative `data` object, sent by test deliveries.
            pub fn sample_data(self) -> Value {
                match self {
                    $(EventType::$variant => json!($sample),)+
                }
            }
        }
    };
}

// The catalog. Adding an event type is adding its line here: variant, wire name (the routing
// key), description, and the entity and data of its sample event.
catalog! {
    BasketSubmitted => "basket-submitted", "Someone submits a basket.",
        entity "BASK-1001", sample {"basketId": "BASK-1001", "contactId": "CONT-123", "currency": "EUR", "total": 129.5, "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": 64.75}]};
    ContactCreated => "contact-created", "A contact is created.",
        entity "CONT-123", sample {"contactId": "CONT-123", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"};
    ContactUpdated => "contact-updated", "A contact is changed.",
        entity "CONT-123", sample {"contactId": "CONT-123", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"};
    ContactDeleted => "contact-deleted", "A contact is removed.",
        entity "CONT-123", sample {"contactId": "CONT-123"};
    CompanyCreated => "company-created", "A company is created.",
        entity "COMP-42", sample {"companyId": "COMP-42", "name": "Analytical Engines Ltd", "website": "https://example.com"};
    CompanyUpdated => "company-updated", "A company is changed.",
        entity "COMP-42", sample {"companyId": "COMP-42", "name": "Analytical Engines Ltd", "website": "https://example.com"};
    CompanyDeleted => "company-deleted", "A company is removed.",
        entity "COMP-42", sample {"companyId": "COMP-42"};
    CompanyNoteCreated => "company-note-created", "A note is attached to a company.",
        entity "NOTE-7", sample {"companyId": "COMP-42", "noteId": "NOTE-7", "text": "Called about the renewal."};
    CompanyNoteUpdated => "company-note-updated", "A note on a company is updated.",
        entity "NOTE-7", sample {"companyId": "COMP-42", "noteId": "NOTE-7", "text": "Called about the renewal."};
    CompanyNoteDeleted => "company-note-deleted", "A note is removed from a company.",
        entity "NOTE-7", sample {"companyId": "COMP-42", "noteId": "NOTE-7"};
}

/// The bits of an [`EventTypeSet`].
type EventTypeBits = u16;

// Every event type needs a bit of its own in an `EventTypeSet`: a catalog that outgrows the
// bits does not compile (widen `EventTypeBits` then).
const _: () = assert!(EventType::ALL.len() <= EventTypeBits::BITS as usize);

impl EventType {
    const fn bit(self) -> EventTypeBits {
        1 << (self as u32)
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
            .iter()
            .copied()
            .find(|event_type| event_type.as_str() == name)
            .ok_or_else(|| UnknownEventType(name.to_owned()))
    }
}

/// A set of event types, as one bit per type: what a webhook subscribes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventTypeSet(EventTypeBits);

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
            .iter()
            .copied()
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
        for &event_type in EventType::ALL {
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
        for &event_type in EventType::ALL {
            assert!(event_type.sample_data().is_object());
            assert!(!event_type.description().is_empty());
        }
    }
}
