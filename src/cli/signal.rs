//! The signals that stop a serving command: Ctrl-C (SIGINT) and, where there is one, SIGTERM
//! (what CI runners and Kubernetes send). `run`, `provider` and `merchant` listen through
//! this one place, so all three stop alike whichever of the two arrives.

use std::future::Future;
use std::io;

/// Which signal asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    CtrlC,
    Term,
}

impl Stop {
    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Stop::CtrlC => "Ctrl-C",
            Stop::Term => "SIGTERM",
        }
    }
}

/// Listens for Ctrl-C and SIGTERM from the moment it is made: from then on neither ends the
/// process by its default action, and none that arrives is missed, even between two
/// [`Signals::next`] calls. Must be made inside a tokio runtime.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening.
    ///
    /// # Errors
    /// When the signal handlers cannot be installed.
    pub fn listen() -> io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next Ctrl-C or SIGTERM.
    pub async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => Stop::CtrlC,
                _ = self.term.recv() => Stop::Term,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Stop::CtrlC,
                // Nothing to wait for: never resolve rather than stop at once.
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Listens now and resolves on the first Ctrl-C or SIGTERM: the stop of `paychaos provider`
/// and `paychaos merchant`. Made before anything is printed, so that a caller who reads the
/// first line and then signals is never met by the default action.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub fn shutdown_signal() -> io::Result<impl Future<Output = Stop>> {
    let mut signals = Signals::listen()?;
    Ok(async move { signals.next().await })
}
