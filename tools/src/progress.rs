//! Progress bars: shown on a terminal only (never with `--quiet` or `--json`, never when
//! stderr is redirected), fed from the library's `Progress` observer, whose answer also
//! carries Ctrl-C to the library.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use outcore::Progress;

use crate::OutputArgs;

/// A progress bar over bytes, or nothing when bars are off.
pub(crate) struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    /// A bar labelled `label` whose length is `total_bytes` (0 when unknown: a spinner).
    pub(crate) fn new(output: &OutputArgs, label: &str, total_bytes: u64) -> Bar {
        if output.quiet || output.json || !std::io::stderr().is_terminal() {
            return Bar { bar: None };
        }
        let bar = ProgressBar::new(total_bytes);
        let template = if total_bytes > 0 {
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
        } else {
            "{msg:>10} {spinner} {bytes} {binary_bytes_per_sec}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar: Some(bar) }
    }

    /// Moves the bar to `progress`'s bytes done; asks the pass to stop once Ctrl-C was
    /// pressed (see `interrupt.rs`).
    pub(crate) fn update(&self, progress: &Progress) -> ControlFlow<()> {
        self.set(progress.bytes_done)
    }

    /// Moves the bar to `bytes`; asks the pass to stop once Ctrl-C was pressed.
    pub(crate) fn set(&self, bytes: u64) -> ControlFlow<()> {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
        crate::interrupt::check()
    }

    /// Removes the bar from the terminal.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
