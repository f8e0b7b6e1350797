//! Ctrl-C and SIGTERM: long commands stop cleanly, keep what is finished, and say how to
//! resume. The handler only sets a flag; loops poll [`stopped`] between units of work (a
//! Monte Carlo trial batch, an SGD round) and return [`crate::Error::Interrupted`].

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by Ctrl-C / SIGTERM.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the handler (idempotent: a second call in one process keeps the first handler).
pub fn install() {
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
}

/// Whether a stop was requested.
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}
