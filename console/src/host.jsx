// The host's figures in the header: VMs by state, memory held by VMs and
// what the kernel says is available, disk, uptime, the accelerator, and
// each warm pool's ready sandboxes (the main /metrics gauges).
import { bytes, duration } from './format.js';

export function Host({ host }) {
  if (!host) return <div class="host muted">…</div>;
  const s = host.status;
  const counts = s.vms.filter((c) => c.count > 0);
  const usedPct = Math.round((1 - s.memory.available_bytes / s.memory.total_bytes) * 100);
  return (
    <div class="host" aria-label="Host">
      <span class="fig" data-fig="vms" title="VMs by state">
        {counts.length === 0
          ? 'no VMs'
          : counts.map((c) => (
              <span key={c.state} class={`badge ${c.state}`} data-state={c.state}>
                {c.count} {c.state}
              </span>
            ))}
      </span>
      <span class="fig" data-fig="memory" title={`${usedPct}% of the host's memory in use`}>
        memory: VMs {bytes(s.memory.vms_mb * 1048576)} · free {bytes(s.memory.available_bytes)} of{' '}
        {bytes(s.memory.total_bytes)}
      </span>
      <span class="fig" title={s.vm_disk.path}>
        disk free {bytes(s.vm_disk.available_bytes)}
      </span>
      {host.pools.map((p) => (
        <span class="fig" key={p.name} title={`warm pool ${p.name}: ${p.image}`}>
          pool {p.name} {p.ready}/{p.size}
        </span>
      ))}
      {s.network.problems.length > 0 && (
        <span class="fig warn" title={s.network.problems.join('\n')}>
          network: {s.network.problems.length} problem{s.network.problems.length > 1 ? 's' : ''}
        </span>
      )}
      <span class="fig" title={s.accel.reason}>
        {s.accel.mode} · up {duration(s.uptime_seconds)} · {s.server}
      </span>
    </div>
  );
}
