//! Metric label values as types: a label's possible values are declared once, as an enum, and
//! every series can be created at zero from that one list.

/// Re-exported for [`label_values!`].
#[doc(hidden)]
pub use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

/// Declares an enum whose variants are the values of a metric label, each with its exact text:
/// it gets `ALL` (every value, for creating series at zero), `as_str`, and the encoding
/// `prometheus-client` needs to use it in a label set.
///
/// ```
/// herald_runtime::label_values! {
///     /// What became of an event.
///     pub enum Outcome {
///         Delivered => "delivered",
///         Dropped => "dropped",
///     }
/// }
/// assert_eq!(Outcome::ALL.len(), 2);
/// assert_eq!(Outcome::Dropped.as_str(), "dropped");
/// ```
#[macro_export]
macro_rules! label_values {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label's text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl $crate::labels::EncodeLabelValue for $name {
            fn encode(
                &self,
                encoder: &mut $crate::labels::LabelValueEncoder<'_>,
            ) -> ::std::result::Result<(), ::std::fmt::Error> {
                ::std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    };
}
