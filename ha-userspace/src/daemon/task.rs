//! A tokio task tied to a value's lifetime: dropping the [`Task`] aborts it. Watchers and
//! checkers hold one per loop they run, so replacing them (a reload) stops the old loops.

use tokio::task::JoinHandle;

/// Aborts its task when dropped. `Task::none()` holds nothing (a watcher with no work).
#[derive(Debug, Default)]
pub struct Task(Option<JoinHandle<()>>);

impl Task {
    /// Spawns `f` on the current runtime.
    pub fn spawn(f: impl std::future::Future<Output = ()> + Send + 'static) -> Task {
        Task(Some(tokio::spawn(f)))
    }

    pub fn none() -> Task {
        Task(None)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}
