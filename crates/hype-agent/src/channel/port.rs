//! Which transport the channel uses, and where: the virtio-serial port named
//! `hype.agent`, or vsock when the machine has a vsock device and no such
//! port.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hype_agent_proto::VIRTIO_PORT_NAME;

use crate::error::Error;
use crate::log;

/// How long to wait for the port before logging; then it keeps waiting.
const PORT_WAIT: Duration = Duration::from_secs(5);
/// virtio device id of a vsock device (virtio spec 5.10).
const VIRTIO_ID_VSOCK: u32 = 19;

#[derive(Debug, PartialEq, Eq)]
pub enum Transport {
    Port(PathBuf),
    Vsock,
}

/// The named port wins when it exists; a vsock device is used only without
/// one. Waiting for the port stays the default because its name arrives a
/// moment after the device, whereas devices are all there once the modules
/// are loaded.
pub fn wait_for_transport() -> Transport {
    let started = Instant::now();
    let mut warned = false;
    loop {
        if let Some(path) = find_port(Path::new("/sys/class/virtio-ports"), VIRTIO_PORT_NAME) {
            // devtmpfs creates the node asynchronously after the sysfs entry.
            if path.exists() {
                return Transport::Port(path);
            }
        } else if has_virtio_device(Path::new("/sys/bus/virtio/devices"), VIRTIO_ID_VSOCK) {
            return Transport::Vsock;
        }
        if !warned && started.elapsed() > PORT_WAIT {
            warned = true;
            log!(
                "{}; still waiting",
                Error::PortNotFound {
                    name: VIRTIO_PORT_NAME,
                    waited: PORT_WAIT
                }
            );
        }
        let pause = if warned { 500 } else { 10 };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// Whether a virtio device with this device id is present; sysfs prints the
/// id as `0x0013`.
fn has_virtio_device(devices_dir: &Path, id: u32) -> bool {
    let Ok(entries) = fs::read_dir(devices_dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        fs::read_to_string(entry.path().join("device")).is_ok_and(|text| {
            let text = text.trim();
            let digits = text.strip_prefix("0x").unwrap_or(text);
            u32::from_str_radix(digits, 16) == Ok(id)
        })
    })
}

/// The /dev node of the port whose `name` attribute is `name`. The name
/// arrives from the host in a control message after the port itself, so a
/// port may briefly exist without one.
fn find_port(class_dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(class_dir).ok()?.flatten() {
        let Ok(port_name) = fs::read_to_string(entry.path().join("name")) else {
            continue;
        };
        if port_name.trim_end() == name {
            return Some(Path::new("/dev").join(entry.file_name()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_found_by_name() {
        let dir = std::env::temp_dir().join(format!("hype-agent-test-{}", std::process::id()));
        for (port, name) in [
            ("vport0p0", ""),
            ("vport1p1", "other\n"),
            ("vport1p2", "hype.agent\n"),
        ] {
            fs::create_dir_all(dir.join(port)).unwrap();
            fs::write(dir.join(port).join("name"), name).unwrap();
        }
        assert_eq!(
            find_port(&dir, "hype.agent"),
            Some(PathBuf::from("/dev/vport1p2"))
        );
        assert_eq!(find_port(&dir, "missing"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn vsock_device_is_found_by_id() {
        let dir = std::env::temp_dir().join(format!("hype-agent-vdev-{}", std::process::id()));
        for (dev, id) in [("virtio0", "0x0001\n"), ("virtio1", "0x0003\n")] {
            fs::create_dir_all(dir.join(dev)).unwrap();
            fs::write(dir.join(dev).join("device"), id).unwrap();
        }
        assert!(!has_virtio_device(&dir, VIRTIO_ID_VSOCK));
        fs::create_dir_all(dir.join("virtio2")).unwrap();
        fs::write(dir.join("virtio2").join("device"), "0x0013\n").unwrap();
        assert!(has_virtio_device(&dir, VIRTIO_ID_VSOCK));
        assert!(!has_virtio_device(&dir.join("missing"), VIRTIO_ID_VSOCK));
        fs::remove_dir_all(&dir).unwrap();
    }
}
