//! Going to the background, as keepalived does without `-n`: the process forks, the child
//! starts a session and runs the daemon, and the parent stays until the child is ready, so
//! the command that started it (an init script, a shell) learns whether it came up. It exits
//! 0 once the child is ready, or with the child's own exit code when it stops before
//! (configuration errors, "already running"). keepalived's parent exits at once, whatever
//! follows; waiting is what `Type=forking` units and `start-stop-daemon` want.
//!
//! `detach` must run before any thread starts: only the forking thread survives a fork.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

/// The pipe end the child writes when it is ready (only in a detached child).
static READY: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Forks. Returns in the child (now a session leader); the parent never returns: it exits
/// as described in the module comment.
pub fn detach() -> io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors that we own from here.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors nobody else owns.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the process has one thread (see the module comment).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(rd);
            // SAFETY: plain calls in the child.
            unsafe { libc::setsid() };
            let _ = std::env::set_current_dir("/");
            *READY.lock().unwrap_or_else(|p| p.into_inner()) = Some(wr);
            Ok(())
        }
        child => {
            drop(wr);
            let mut byte = [0u8; 1];
            let mut pipe = std::fs::File::from(rd);
            let code = match pipe.read(&mut byte) {
                Ok(1) => 0,
                // The child closed the pipe without a word: it has exited.
                _ => wait_exit_code(child),
            };
            std::process::exit(code);
        }
    }
}

/// The exit code of `child`, as a shell reports it (128 + a signal's number).
fn wait_exit_code(child: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(child, &mut status, 0) };
    if rc != child {
        return 1;
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Whether this process is a detached child that has not yet said it is ready.
pub fn pending() -> bool {
    READY.lock().map(|r| r.is_some()).unwrap_or(false)
}

/// Tells the waiting parent that the daemon is up, and lets go of the terminal: standard
/// input, output and error become /dev/null (the logs go to syslog in the background). A
/// no-op in a process that did not detach.
pub fn ready() {
    let Some(fd) = READY.lock().ok().and_then(|mut r| r.take()) else {
        return;
    };
    let _ = std::fs::File::from(fd).write_all(b"1");
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let fd = null.as_raw_fd();
        for target in 0..=2 {
            if target != fd {
                // SAFETY: dup2 onto the standard descriptors, which this process owns.
                unsafe { libc::dup2(fd, target) };
            }
        }
        // Opened as 0, 1 or 2 (one was closed at start), it is one of them now: kept.
        if fd <= 2 {
            std::mem::forget(null);
        }
    }
}
