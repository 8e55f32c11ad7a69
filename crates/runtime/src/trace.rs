//! W3C trace context across messages.
//!
//! An event's `traceparent` header becomes the parent of fanout's span; fanout's span goes
//! into each delivery message; the delivery's becomes the parent of the sender's span, which
//! goes into the outgoing HTTP request. When no exporter is configured, spans carry no trace
//! context, and the incoming `traceparent` is passed on unchanged instead.

use std::collections::HashMap;

use herald_contract::topology::headers;
use herald_contract::trace_context::{valid_traceparent, valid_tracestate};
use opentelemetry::global;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `traceparent` and `tracestate` as they travel in headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceHeaders {
    /// Keeps only values of the W3C format: whatever else a publisher sent is dropped (a
    /// `tracestate` without a valid `traceparent` too).
    pub fn new(traceparent: Option<String>, tracestate: Option<String>) -> Self {
        let traceparent = traceparent
            .as_deref()
            .and_then(valid_traceparent)
            .map(str::to_owned);
        let tracestate = tracestate
            .as_deref()
            .filter(|_| traceparent.is_some())
            .and_then(valid_tracestate)
            .map(str::to_owned);
        Self {
            traceparent,
            tracestate,
        }
    }
}

/// Makes `span` a child of the context in `incoming`, if any.
pub fn continue_trace(span: &tracing::Span, incoming: &TraceHeaders) {
    let Some(traceparent) = &incoming.traceparent else {
        return;
    };
    let mut carrier = HashMap::from([(headers::TRACEPARENT.to_owned(), traceparent.clone())]);
    if let Some(tracestate) = &incoming.tracestate {
        carrier.insert(headers::TRACESTATE.to_owned(), tracestate.clone());
    }
    let parent = global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace context to send on from within `span`: the span's own when tracing is on, else
/// `incoming` unchanged.
pub fn outgoing(span: &tracing::Span, incoming: &TraceHeaders) -> TraceHeaders {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return incoming.clone();
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut carrier));
    TraceHeaders {
        traceparent: carrier
            .remove(headers::TRACEPARENT)
            .or_else(|| incoming.traceparent.clone()),
        tracestate: carrier
            .remove(headers::TRACESTATE)
            .filter(|s| !s.is_empty())
            .or_else(|| incoming.tracestate.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_the_incoming_context_passes_through_unchanged() {
        let incoming = TraceHeaders::new(
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            None,
        );
        let span = tracing::info_span!("test");
        continue_trace(&span, &incoming);
        assert_eq!(outgoing(&span, &incoming), incoming);
        assert_eq!(
            outgoing(&span, &TraceHeaders::default()),
            TraceHeaders::default()
        );
    }

    #[test]
    fn invalid_trace_context_from_a_publisher_is_dropped() {
        let headers =
            TraceHeaders::new(Some("not a traceparent\r\nx: y".into()), Some("k=v".into()));
        assert_eq!(headers, TraceHeaders::default());
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let headers = TraceHeaders::new(Some(valid.into()), Some("k=v\u{0}".into()));
        assert_eq!(headers.traceparent.as_deref(), Some(valid));
        assert_eq!(headers.tracestate, None);
    }
}
