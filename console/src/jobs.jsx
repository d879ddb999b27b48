// Import jobs, newest first, with their progress as their events report
// it, a cancel for those not finished, why a failed one failed, what an
// export-only one kept, and a password field for one a restart left
// waiting for its password.
import { useState } from 'preact/hooks';

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

// hype-types' AWAITING_PASSWORD: the phase of a job whose password was
// in its body when hyped restarted (hyped never stores it).
const AWAITING_PASSWORD = 'awaiting_password';

const awaitsPassword = (j) => j.state === 'pending' && j.progress.phase === AWAITING_PASSWORD;

// The password goes from the field straight into the request's body: the
// input is uncontrolled (never in component state) and emptied before the
// request leaves, whatever the answer. It has no name, and the form posts
// (should the script not run, nothing reaches a URL).
function ResumeForm({ j, failed, resume }) {
  const [busy, setBusy] = useState(false);
  const id = `resume-${j.id}`;
  const submit = async (ev) => {
    ev.preventDefault();
    const input = ev.currentTarget.elements[id];
    const password = input.value;
    input.value = '';
    setBusy(true);
    await resume(j, password);
    setBusy(false);
  };
  return (
    <form class="resume" method="post" noValidate onSubmit={submit} aria-label={`Resume job ${j.image}`}>
      <label for={id}>Source password</label>
      <input
        id={id}
        type="password"
        autocomplete="off"
        spellcheck={false}
        aria-invalid={failed ? 'true' : undefined}
        aria-describedby={failed ? `${id}-error` : undefined}
      />
      <button type="submit" class="primary" disabled={busy}>
        Resume
      </button>
    </form>
  );
}

function Outcome({ j, refusal, resume }) {
  let shown;
  if (j.error) shown = <span class="error">{j.error}</span>;
  else if (j.result) shown = <Kept r={j.result} />;
  else shown = <Progress p={j.progress} />;
  return (
    <>
      {shown}
      {awaitsPassword(j) && (
        <>
          <p class="muted hint">
            hyped restarted, and keeps no password: give
            {j.source.username ? <> the password of <code>{j.source.username}</code></> : ' the source’s password'} again
            to go on.
          </p>
          <ResumeForm j={j} failed={!!refusal} resume={resume} />
        </>
      )}
      {/* Kept when the form goes (a 409: the job moved on meanwhile). */}
      {refusal && (
        <p class="error refusal" id={`resume-${j.id}-error`} role="alert">
          {refusal.code && (
            <>
              <code>{refusal.code}</code>:{' '}
            </>
          )}
          {refusal.message}
        </p>
      )}
    </>
  );
}

export function Jobs({ jobs, say }) {
  // The last resume refused, by job id: {code, message}.
  const [refusals, setRefusals] = useState({});
  const refuse = (id, r) => setRefusals((all) => ({ ...all, [id]: r }));
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
  // The job's row changes with its JOB_QUEUED event, as for any job.
  const resume = async (j, password) => {
    if (password === '') {
      refuse(j.id, { code: null, message: 'Type the source’s password first; nothing was sent.' });
      return;
    }
    refuse(j.id, null);
    try {
      await post(`/api/v1/jobs/${encodeURIComponent(j.id)}/resume`, { password });
      say(`job ${j.id}: resumed`);
    } catch (e) {
      refuse(j.id, { code: e.code, message: e.message });
    }
  };
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
                <Outcome j={j} refusal={refusals[j.id]} resume={resume} />
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
