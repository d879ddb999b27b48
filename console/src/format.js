// Small formatting helpers: sizes, durations, times.

export function bytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function mib(n) {
  return n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} GiB` : `${n} MiB`;
}

export function duration(s) {
  if (s == null) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '–' : `${duration((now - t) / 1000)} ago`;
}

/// Seconds left of a VM's TTL, or null without one.
export function ttlLeft(vm, now = Date.now()) {
  if (!vm.ttl_seconds) return null;
  return (Date.parse(vm.created_at) + vm.ttl_seconds * 1000 - now) / 1000;
}

/// A console line without what would steer a terminal: escape sequences
/// and other control characters go (as the TUI does).
export function printable(line) {
  return line
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b./g, '')
    .replace(/\t/g, '    ')
    .replace(/[\x00-\x1f\x7f]/g, '');
}
