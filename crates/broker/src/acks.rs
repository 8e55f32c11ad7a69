//! Settling deliveries in batches.
//!
//! Handlers finish in any order, but a broker acknowledgement with `multiple` settles every
//! delivery up to a tag at once: for a quorum queue that is one command in its log instead of
//! one per message. [`Acks`] collects what handlers settle and sends, after each wake-up, one
//! `multiple` acknowledgement for the longest run of finished deliveries from the oldest one
//! still unsettled. A delivery that is still being worked on holds that run back; so that it
//! cannot hold back the whole prefetch window, finished deliveries behind it are acknowledged
//! one by one once more than [`HELD_BACK_LIMIT`] wait. Requeues are sent at once, one by one.

use std::collections::BTreeMap;

use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Finished deliveries that may wait behind an unfinished one before being acknowledged alone.
pub const HELD_BACK_LIMIT: usize = 32;

#[derive(Debug, Clone, Copy)]
enum Settlement {
    /// A delivery was handed to a handler.
    Delivered(u64),
    Ack(u64),
    Requeue(u64),
}

/// Where a delivery stands, for the batching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Working,
    /// Finished, not yet acknowledged.
    Finished,
    /// Acknowledged or requeued on its own.
    SettledAlone,
}

/// What to send to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    AckUpTo(u64),
    AckOne(u64),
    Requeue(u64),
}

/// The batching, apart from I/O.
#[derive(Debug, Default)]
struct Ledger {
    deliveries: BTreeMap<u64, State>,
}

impl Ledger {
    fn apply(&mut self, settlement: Settlement, commands: &mut Vec<Command>) {
        match settlement {
            Settlement::Delivered(tag) => {
                self.deliveries.insert(tag, State::Working);
            }
            Settlement::Ack(tag) => {
                self.deliveries.insert(tag, State::Finished);
            }
            Settlement::Requeue(tag) => {
                self.deliveries.insert(tag, State::SettledAlone);
                commands.push(Command::Requeue(tag));
            }
        }
    }

    /// Acknowledges the finished run at the front, and whatever waits too long behind it.
    fn flush(&mut self, commands: &mut Vec<Command>, everything: bool) {
        let mut up_to = None;
        while let Some((&tag, &state)) = self.deliveries.first_key_value() {
            if state == State::Working {
                break;
            }
            if state == State::Finished {
                up_to = Some(tag);
            }
            self.deliveries.remove(&tag);
        }
        if let Some(tag) = up_to {
            commands.push(Command::AckUpTo(tag));
        }
        let held_back = self
            .deliveries
            .values()
            .filter(|s| **s == State::Finished)
            .count();
        if everything || held_back > HELD_BACK_LIMIT {
            for (tag, state) in self.deliveries.iter_mut() {
                if *state == State::Finished {
                    *state = State::SettledAlone;
                    commands.push(Command::AckOne(*tag));
                }
            }
        }
    }
}

/// Settles the deliveries of one channel. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Acks {
    settlements: mpsc::UnboundedSender<Settlement>,
}

impl Acks {
    /// Starts the settling task for `channel`; it ends, after a last flush, once every clone
    /// is dropped.
    pub fn start(channel: Channel) -> (Self, JoinHandle<()>) {
        let (settlements, mut incoming) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut ledger = Ledger::default();
            let mut received = Vec::new();
            let mut commands = Vec::new();
            loop {
                let open = incoming.recv_many(&mut received, 4096).await > 0;
                for settlement in received.drain(..) {
                    ledger.apply(settlement, &mut commands);
                }
                ledger.flush(&mut commands, !open);
                for command in commands.drain(..) {
                    let sent = match command {
                        Command::AckUpTo(tag) => {
                            channel
                                .basic_ack(tag, BasicAckOptions { multiple: true })
                                .await
                        }
                        Command::AckOne(tag) => {
                            channel
                                .basic_ack(tag, BasicAckOptions { multiple: false })
                                .await
                        }
                        Command::Requeue(tag) => {
                            channel
                                .basic_nack(
                                    tag,
                                    BasicNackOptions {
                                        multiple: false,
                                        requeue: true,
                                    },
                                )
                                .await
                        }
                    };
                    if let Err(error) = sent {
                        tracing::debug!(%error, "could not settle deliveries; the broker will redeliver them");
                    }
                }
                if !open {
                    return;
                }
            }
        });
        (Self { settlements }, task)
    }

    /// Records that delivery `tag` went to a handler (before the handler can settle it).
    pub fn delivered(&self, tag: u64) {
        let _ = self.settlements.send(Settlement::Delivered(tag));
    }

    /// Acknowledges delivery `tag`.
    pub fn ack(&self, tag: u64) {
        let _ = self.settlements.send(Settlement::Ack(tag));
    }

    /// Returns delivery `tag` to the queue.
    pub fn requeue(&self, tag: u64) {
        let _ = self.settlements.send(Settlement::Requeue(tag));
    }

    /// What settles delivery `tag`.
    pub fn of(&self, tag: u64) -> Settle {
        Settle {
            acks: self.clone(),
            tag,
            settled: false,
        }
    }
}

/// Settles one delivery, once. A handle dropped unsettled (a handler that returned early or
/// panicked) requeues its delivery, so that it can neither be lost nor hold the batch back.
#[derive(Debug)]
#[must_use = "a delivery must be acknowledged or requeued; dropping the handle requeues it"]
pub struct Settle {
    acks: Acks,
    tag: u64,
    settled: bool,
}

impl Settle {
    pub fn ack(mut self) {
        self.settled = true;
        self.acks.ack(self.tag);
    }

    pub fn requeue(mut self) {
        self.settled = true;
        self.acks.requeue(self.tag);
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.settled {
            self.acks.requeue(self.tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(settlements: &[Settlement], everything: bool) -> (Ledger, Vec<Command>) {
        let mut ledger = Ledger::default();
        let mut commands = Vec::new();
        for settlement in settlements {
            ledger.apply(*settlement, &mut commands);
        }
        ledger.flush(&mut commands, everything);
        (ledger, commands)
    }

    use Settlement::{Ack, Delivered, Requeue};

    #[test]
    fn a_settle_handle_dropped_unsettled_requeues_its_delivery_and_a_settled_one_does_nothing_more()
    {
        let (settlements, mut sent) = mpsc::unbounded_channel();
        let acks = Acks { settlements };
        drop(acks.of(7));
        acks.of(8).ack();
        acks.of(9).requeue();
        let mut seen = Vec::new();
        while let Ok(settlement) = sent.try_recv() {
            seen.push(format!("{settlement:?}"));
        }
        assert_eq!(seen, ["Requeue(7)", "Ack(8)", "Requeue(9)"]);
    }

    #[test]
    fn a_finished_run_from_the_front_is_one_multiple_ack() {
        let (_, commands) = run(
            &[Delivered(1), Delivered(2), Delivered(3), Ack(2), Ack(1)],
            false,
        );
        assert_eq!(commands, vec![Command::AckUpTo(2)]);
    }

    #[test]
    fn an_unfinished_delivery_holds_the_run_back_until_too_many_wait() {
        let mut settlements = vec![Delivered(1)];
        settlements.extend((2..=10).flat_map(|t| [Delivered(t), Ack(t)]));
        let (ledger, commands) = run(&settlements, false);
        assert!(commands.is_empty());
        assert_eq!(ledger.deliveries.len(), 10);

        let mut settlements = vec![Delivered(1)];
        let last = 2 + HELD_BACK_LIMIT as u64;
        settlements.extend((2..=last).flat_map(|t| [Delivered(t), Ack(t)]));
        let (mut ledger, commands) = run(&settlements, false);
        assert_eq!(commands.len(), HELD_BACK_LIMIT + 1);
        assert!(commands.iter().all(|c| matches!(c, Command::AckOne(_))));

        // When the front finishes, only it is left to acknowledge: the others went alone.
        let mut commands = Vec::new();
        ledger.apply(Ack(1), &mut commands);
        ledger.flush(&mut commands, false);
        assert_eq!(commands, vec![Command::AckUpTo(1)]);
        assert!(ledger.deliveries.is_empty());
    }

    #[test]
    fn a_multiple_ack_never_ends_on_a_delivery_already_settled_alone() {
        let (_, commands) = run(
            &[
                Delivered(1),
                Delivered(2),
                Delivered(3),
                Ack(1),
                Requeue(2),
                Ack(3),
            ],
            false,
        );
        assert_eq!(commands, vec![Command::Requeue(2), Command::AckUpTo(3)]);
        let (_, commands) = run(&[Delivered(1), Delivered(2), Ack(1), Requeue(2)], false);
        assert_eq!(commands, vec![Command::Requeue(2), Command::AckUpTo(1)]);
    }

    #[test]
    fn the_last_flush_acknowledges_every_finished_delivery() {
        let (ledger, commands) = run(&[Delivered(1), Delivered(2), Ack(2)], true);
        assert_eq!(commands, vec![Command::AckOne(2)]);
        assert_eq!(ledger.deliveries.get(&1), Some(&State::Working));
    }
}
