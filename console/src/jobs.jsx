// Import jobs, newest first, with their progress as their events report
// it, a cancel for those not finished, why a failed one failed, and what
// an export-only one kept.
import { post } from './api.js';
import { bytes, duration } from './format.js';

function Progress({ p }) {
  const pct = p.percent != null ? Math.max(0, Math.min(100, p.percent)) : null;
  return (
    <div class="progress" title={p.phase}>
      <div class="track">
        <div class="fill" style={{ width: `${pct ?? 0}%` }} />
      </div>
      <span class="muted">
        {p.phase}
        {pct != null && ` ${pct.toFixed(0)}%`}
        {p.bytes_total != null && ` · ${bytes(p.bytes_done)} of ${bytes(p.bytes_total)}`}
        {p.eta_seconds != null && ` · ${duration(p.eta_seconds)} left`}
      </span>
    </div>
  );
}

// What an export-only job kept: the folder, then each file with its size
// and sha256 (the start of it; the whole one in its title).
function Kept({ r }) {
  const total = r.files.reduce((n, f) => n + f.size_bytes, 0);
  return (
    <details class="kept">
      <summary>
        kept {r.files.length} files, {bytes(total)}, in <code>{r.output}</code>
      </summary>
      <table>
        <tbody>
          {r.files.map((f) => (
            <tr key={f.name} data-file={f.name}>
              <td>{f.name}</td>
              <td>{bytes(f.size_bytes)}</td>
              <td title={f.sha256}>
                <code>sha256 {f.sha256.slice(0, 16)}…</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function Outcome({ j }) {
  if (j.error) return <span class="error">{j.error}</span>;
  if (j.result) return <Kept r={j.result} />;
  return <Progress p={j.progress} />;
}

export function Jobs({ jobs, say }) {
  if (!jobs || jobs.length === 0) {
    return (
      <section class="card">
        <h2>Import jobs</h2>
        <p class="muted">{jobs ? 'None. Submit one with hype jobs submit or hype images import.' : 'Loading…'}</p>
      </section>
    );
  }
  const cancel = (id) =>
    post(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`).then(
      () => say(`job ${id}: cancelled`),
      (e) => say(`job ${id}: cancel failed: ${e.message}`, true),
    );
  return (
    <section class="card">
      <h2>Import jobs</h2>
      <table class="jobs">
        <thead>
          <tr>
            <th>image</th><th>kind</th><th>state</th><th>progress</th><th />
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-job={j.id}>
              <td title={j.id}>{j.image}</td>
              <td>{j.kind}</td>
              <td>
                <span class={`badge ${j.state}`}>{j.state}</span>
              </td>
              <td>
                <Outcome j={j} />
              </td>
              <td>
                {(j.state === 'pending' || j.state === 'running') && (
                  <button onClick={() => cancel(j.id)}>cancel</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
