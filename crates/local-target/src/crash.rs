//! Crash points for the tests that kill a promotion *inside* a step (issue
//! 12): when `RELEASE_DESK_TEST_CRASH_AT` names a point, the process sends
//! itself SIGKILL there, exactly as `kill -9` would (no destructors, no
//! flushing). A test sets it only on the process it means to kill; the app
//! never sets it, and an unset or other value does nothing.

/// The variable that names the point to die at.
pub const CRASH_AT: &str = "RELEASE_DESK_TEST_CRASH_AT";

/// After `upstream.conf` is written and accepted by `nginx -t`, before nginx
/// is reloaded: the file and nginx's real routing differ.
pub const SWITCH_AFTER_WRITE: &str = "switch.after_write";
/// After a new release is moved into a leg's `app/`, before its `leg.json`
/// records it: the folder and the record differ.
pub const DEPLOY_AFTER_INSTALL: &str = "deploy.after_install";

/// In a rolling update, after the first instance runs the new release and
/// is back in rotation, before the second is touched.
pub const ROLLING_BETWEEN_INSTANCES: &str = "rolling.between_instances";

pub(crate) fn point(name: &str) {
    if std::env::var(CRASH_AT).is_ok_and(|v| v == name) {
        // SAFETY: kill(2) on our own pid with a valid signal number.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
