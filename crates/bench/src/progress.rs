//! The progress line of a long run: which scenario, how many points are done, and an estimate
//! of the time left. On a terminal it is one line redrawn in place; otherwise (a log, CI) each
//! step is printed on a line of its own.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress over a run's points. Cheap to clone.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A run of `points` points.
    pub fn new(points: usize) -> Self {
        let bar = ProgressBar::new(points as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:24}] {pos}/{len} points, ETA {eta} · {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_secs(1));
        Self { bar }
    }

    /// Says what the run is doing now.
    pub fn step(&self, what: &str) {
        self.bar.set_message(what.to_owned());
        if self.bar.is_hidden() {
            eprintln!("… {what}");
        }
    }

    /// One more point done.
    pub fn point_done(&self) {
        self.bar.inc(1);
    }

    /// Clears the line at the end of the run.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
