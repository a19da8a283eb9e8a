//! Ctrl-C: the long subcommands (`convert`, `export`, `stats`) catch SIGINT, stop the pass
//! under way at its next progress report (the library then returns `Cancelled` and
//! publishes nothing), and exit with [`EXIT_INTERRUPTED`]. A second Ctrl-C exits at once.
//! The other subcommands keep the default: SIGINT ends them.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The exit status after an interruption: 128 + SIGINT, as a shell reports a process that
/// SIGINT ended.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Set by the SIGINT handler, once [`catch`] has installed it.
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the SIGINT handler: the first signal sets the flag [`check`] reads, a second
/// one exits with [`EXIT_INTERRUPTED`] at once (leaving temporary files that the next writer
/// removes).
///
/// # Errors
/// The handler cannot be installed.
pub(crate) fn catch() -> std::io::Result<()> {
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    // In this order, so the first signal only sets the flag.
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        i32::from(EXIT_INTERRUPTED),
        Arc::clone(flag),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(flag))?;
    Ok(())
}

/// Whether SIGINT has arrived since [`catch`].
pub(crate) fn interrupted() -> bool {
    INTERRUPTED
        .get()
        .is_some_and(|flag| flag.load(Ordering::Relaxed))
}

/// What a progress observer answers: stop once interrupted.
pub(crate) fn check() -> ControlFlow<()> {
    if interrupted() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// An error when SIGINT has arrived: checked before a result is published, so an
/// interruption late in a command still leaves nothing behind.
///
/// # Errors
/// [`outcore::Error::Cancelled`] once interrupted.
pub(crate) fn bail_if_interrupted() -> outcore::Result<()> {
    if interrupted() {
        return Err(outcore::Error::Cancelled);
    }
    Ok(())
}
