//! The few facts about the host that both the config front end and the daemon ask for, each
//! asked one way: its name, and who a user is; and the one scheduling call the daemon's
//! real-time threads make.

use std::ffi::CString;

/// The host name (`uname` nodename, what `hostname` prints): keepalived's default
/// `router_id`, SMTP HELO name and, up to the first dot, config id.
pub fn host_name() -> String {
    // SAFETY: utsname is plain data; uname fills it and we only read NUL-terminated fields.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "localhost".into();
    }
    let bytes: Vec<u8> = uts
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The uid and gid of user `name`, if it exists (`getpwnam_r`, safe from any thread).
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    // SAFETY: plain-data out parameters; every pointer is valid for the call and `buf`
    // outlives it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    let rc =
        unsafe { libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out) };
    (rc == 0 && !out.is_null()).then_some((pwd.pw_uid, pwd.pw_gid))
}

/// Whether group `name` exists (`getgrnam_r`).
pub fn group_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: as in `user_ids`, with getgrnam_r.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::group = std::ptr::null_mut();
    let rc =
        unsafe { libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut out) };
    rc == 0 && !out.is_null()
}

/// Gives the memory freed so far on this thread back to the system. Loading a big config
/// builds and drops a parse tree and a model several times the size of what the daemon
/// keeps; without this the daemon's RSS stays at that peak (the `ha` binary allocates with
/// mimalloc, which keeps freed pages for reuse).
pub fn release_freed_memory() {
    // SAFETY: mi_collect has no preconditions; with another global allocator it only
    // tidies mimalloc's own (empty) heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Makes the allocator give freed memory back to the system at once rather than a second
/// later, so the daemon's resident size follows what it holds (BENCHMARKS.md "Checkers").
/// Arena memory is also committed only as it is used, but that has to be decided before
/// the first allocation: `.cargo/config.toml` builds mimalloc so. Only for mimalloc 3,
/// whose option number this is (include/mimalloc.h, `mi_option_e`).
pub fn tune_allocator_for_daemon() {
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_version and mi_option_set have no preconditions.
    unsafe {
        // MI_MALLOC_VERSION: major, then two digits each of minor and patch.
        if libmimalloc_sys::mi_version() / 10_000 == 3 {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        }
    }
}

/// Puts the calling thread at SCHED_RR `prio`, logging the outcome under `thread`'s name
/// (the VRRP engine, the BFD thread): above every normal process, so a busy machine does not
/// delay what it sends.
pub fn realtime_priority(thread: &str, prio: i32) {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: setting our own thread's policy with a valid sched_param.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_RR, &param) };
    if rc == 0 {
        tracing::info!("{thread} thread runs SCHED_RR priority {prio}");
    } else {
        tracing::warn!(
            "{thread} thread stays at normal priority (SCHED_RR {prio}: {})",
            std::io::Error::from_raw_os_error(rc)
        );
    }
}

/// Moves the calling thread into the network namespace `ip netns` named `name`
/// (`/run/netns/NAME`), as keepalived does for `net_namespace` and `-s`. Threads started
/// afterwards by this one are in it too.
pub fn enter_netns(name: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let path = std::path::Path::new("/run/netns").join(name);
    let ns = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    // SAFETY: setns on a namespace file we hold open.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_the_host_has_a_name() {
        assert_eq!(user_ids("root"), Some((0, 0)));
        assert_eq!(user_ids("no-such-user-here"), None);
        assert!(group_exists("root"));
        assert!(!host_name().is_empty());
    }
}
