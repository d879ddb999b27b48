//! `vm.counters` response.

use std::collections::BTreeMap;

/// Per-device counters: device id → counter name → value, e.g.
/// `{"_disk0": {"read_bytes": 4096, ...}}`. A map rather than a struct
/// because CH's counter names depend on the device type and CH version.
pub type VmCounters = BTreeMap<String, BTreeMap<String, u64>>;
