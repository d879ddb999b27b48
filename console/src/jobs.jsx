// Import jobs, newest first, with their progress as their events report
// it, and a cancel for those not finished.
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
              <td>{j.error ? <span class="error">{j.error}</span> : <Progress p={j.progress} />}</td>
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
