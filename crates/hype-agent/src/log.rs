//! Console logging. The agent has no syslog and no journal: its own lines go
//! straight to `/dev/console` (the kernel's serial console), which hyped
//! captures to a file, prefixed so they stand out among kernel messages.

use std::fmt;
use std::io::Write;

#[cfg(not(test))]
static CONSOLE: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Logs one `hype-agent:`-prefixed line.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}

pub fn line(args: fmt::Arguments<'_>) {
    write(format!("hype-agent: {args}\n").as_bytes());
}

/// Writes a line without the prefix, for markers other programs match on.
pub fn raw_line(text: &str) {
    write(format!("{text}\n").as_bytes());
}

/// Tests run on a host, whose console is not theirs to write on.
#[cfg(test)]
fn write(bytes: &[u8]) {
    let _ = std::io::stderr().write_all(bytes);
}

#[cfg(not(test))]
fn write(bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    // A poisoned lock only means another thread panicked mid-write; the file
    // handle is still fine and logging must keep working.
    let mut console = CONSOLE.lock().unwrap_or_else(|p| p.into_inner());
    if console.is_none() {
        // Reopened lazily: the first lines may be written before devtmpfs is
        // mounted, when only the initramfs's own /dev/console node exists.
        *console = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open("/dev/console")
            .ok();
    }
    let written = match console.as_mut() {
        Some(file) => file.write_all(bytes).is_ok(),
        None => false,
    };
    if !written {
        let _ = std::io::stderr().write_all(bytes);
    }
}
