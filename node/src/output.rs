//! Where results go: human text on stdout (progress on stderr), or one JSON document.

use std::cell::RefCell;
use std::collections::HashSet;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Output mode chosen by `--json`.
pub struct Output {
    json: bool,
    /// Warnings already printed: a pipeline (`poa demo`) runs several steps that each warn
    /// about the same thing, and once is enough.
    warned: RefCell<HashSet<String>>,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            warned: RefCell::new(HashSet::new()),
        }
    }

    /// Prints a result: `text` for people, `value` as JSON with `--json`.
    pub fn result<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            println!("{}", text());
        }
        Ok(())
    }

    /// Prints an error with its whole cause chain (as `{"error": …}` with `--json`).
    pub fn error(&self, e: &anyhow::Error) {
        if self.json {
            println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
        } else {
            eprintln!("error: {e:#}");
        }
    }

    /// A warning on stderr, in both modes (stdout stays one JSON document with `--json`); the
    /// same message is printed once per run.
    pub fn warn(&self, msg: &str) {
        if self.warned.borrow_mut().insert(msg.to_string()) {
            eprintln!("warning: {msg}");
        }
    }

    /// A progress bar on stderr (hidden with `--json` or when stderr is not a terminal).
    pub fn progress(&self, len: u64, msg: &'static str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len).with_message(msg);
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    /// A spinner on stderr for steps without a known length.
    pub fn spinner(&self, msg: &'static str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_message(msg);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}
