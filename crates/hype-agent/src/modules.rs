//! Kernel modules, loaded with finit_module(2) in the order the image build
//! computed: the guest has no modprobe, no modules.dep and no udev, so the
//! build writes `/etc/hype/modules.order` with every dependency before its
//! users, and loading it top to bottom is all there is to do. Drivers bind
//! their devices synchronously while loading, so once this returns the
//! virtio devices exist.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::kmod::{finit_module, ModuleInitFlags};

use crate::error::Error;
use crate::log;

pub const ORDER_PATH: &str = "/etc/hype/modules.order";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub loaded: usize,
    pub already: usize,
    pub failed: usize,
}

/// Loads every module listed in `order_file`; a failing module is logged and
/// skipped (its users will then fail too, and say so).
pub fn load_all(order_file: &Path) -> Result<Summary, Error> {
    let text = std::fs::read_to_string(order_file).map_err(|source| Error::Io {
        what: "read",
        path: order_file.to_path_buf(),
        source,
    })?;
    let mut summary = Summary::default();
    for path in parse_order(&text) {
        match load(Path::new(path)) {
            Ok(Loaded::New) => summary.loaded += 1,
            Ok(Loaded::Already) => summary.already += 1,
            Err(e) => {
                summary.failed += 1;
                log!("{e}");
            }
        }
    }
    Ok(summary)
}

/// The module paths in the order file: one per line, blank lines and `#`
/// comments ignored.
pub fn parse_order(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

enum Loaded {
    New,
    Already,
}

fn load(path: &Path) -> Result<Loaded, Error> {
    // Linux 6.1 cannot decompress in finit_module (that came with 6.2's
    // MODULE_INIT_COMPRESSED_FILE), so the build stores plain .ko files.
    if is_compressed(path) {
        return Err(Error::CompressedModule(path.to_path_buf()));
    }
    let file = File::open(path).map_err(|source| Error::Io {
        what: "open module",
        path: path.to_path_buf(),
        source,
    })?;
    match finit_module(&file, c"", ModuleInitFlags::empty()) {
        Ok(()) => Ok(Loaded::New),
        Err(Errno::EEXIST) => Ok(Loaded::Already),
        Err(source) => Err(Error::Module {
            path: PathBuf::from(path),
            source,
        }),
    }
}

fn is_compressed(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("xz" | "zst" | "gz")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_file_skips_blanks_and_comments() {
        let text = "# written by build-images.sh\n\
                    /lib/modules/6.1/kernel/drivers/virtio/virtio_ring.ko\n\
                    \n  /lib/modules/6.1/kernel/drivers/virtio/virtio.ko  \n";
        assert_eq!(
            parse_order(text),
            vec![
                "/lib/modules/6.1/kernel/drivers/virtio/virtio_ring.ko",
                "/lib/modules/6.1/kernel/drivers/virtio/virtio.ko",
            ]
        );
    }

    #[test]
    fn compressed_modules_are_recognised() {
        assert!(is_compressed(Path::new("/a/virtio.ko.xz")));
        assert!(is_compressed(Path::new("/a/virtio.ko.zst")));
        assert!(!is_compressed(Path::new("/a/virtio.ko")));
    }
}
