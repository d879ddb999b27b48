// The console once logged in: the host's figures, the VMs with their
// actions, the create form, a VM's serial log, and the import jobs.
import { useEffect, useState } from 'preact/hooks';

import { del, post, vmPath } from './api.js';
import { useHost, useJobs, useVms } from './feeds.js';
import { ago, duration, mib, ttlLeft } from './format.js';
import { CreateForm } from './create.jsx';
import { Host } from './host.jsx';
import { Jobs } from './jobs.jsx';
import { Logs } from './logs.jsx';
import { Recordings } from './recordings.jsx';

// The actions a VM in each state takes (hype-types' lifecycle); delete is
// always there.
const ACTIONS = {
  creating: [],
  starting: ['stop'],
  running: ['pause', 'stop'],
  paused: ['resume', 'stop'],
  stopping: [],
  stopped: ['start'],
  crashed: ['start'],
  standby: ['restore'],
};

function useNow(everyMs) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

function Notices({ notices, dismiss }) {
  return (
    <div class="notices" aria-live="polite">
      {notices.map((n) => (
        <div class={`notice ${n.error ? 'error' : ''}`} role={n.error ? 'alert' : 'status'} key={n.id}>
          <span>{n.text}</span>
          <button class="link" onClick={() => dismiss(n.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

function VmRow({ vm, now, flash, selected, select, act }) {
  const left = ttlLeft(vm, now);
  return (
    // Two animations alike, alternated by event id: a new event restarts
    // the highlight without remounting the row.
    <tr data-vm={vm.name} class={`${flash ? `flash-${flash % 2}` : ''} ${selected ? 'selected' : ''}`}>
      <td>
        <button class="link name" onClick={() => select(vm.name)} title="Serial log">
          {vm.name}
        </button>
      </td>
      <td class="state" data-state={vm.state}>
        <span class={`badge ${vm.state}`}>{vm.state}</span>
      </td>
      <td>{vm.image}</td>
      <td class="num">{vm.cpu_cores}</td>
      <td class="num">{mib(vm.memory_mb)}</td>
      <td>{vm.ip || '–'}</td>
      <td title={vm.vmm.version || ''}>
        {vm.vmm.kind}
        {vm.vmm.accel ? ` (${vm.vmm.accel})` : ''}
      </td>
      <td title={vm.created_at}>{ago(vm.created_at, now)}</td>
      <td>{left == null ? '–' : duration(left)}</td>
      <td class="actions">
        {vm.live_url && vm.state === 'running' && (
          <a class="button" data-action="live" href={`/vms/${encodeURIComponent(vm.name)}/live`} title="Watch and take over its browser">
            live
          </a>
        )}
        {(ACTIONS[vm.state] || []).map((a) => (
          <button key={a} data-action={a} onClick={() => act(vm.name, a)}>
            {a}
          </button>
        ))}
        <button class="danger" data-action="delete" onClick={() => act(vm.name, 'delete')}>
          delete
        </button>
      </td>
    </tr>
  );
}

export function Console({ session, logout }) {
  const [notices, setNotices] = useState([]);
  const [selected, setSelected] = useState(null);
  const [creating, setCreating] = useState(false);
  const [poke, setPoke] = useState(0);
  const { vms, live, error, changed } = useVms((ev) => setPoke(ev.id));
  const jobs = useJobs();
  const host = useHost(poke);
  const now = useNow(1000);

  const say = (text, isError = false) => {
    const id = `${Date.now()}-${Math.random()}`;
    setNotices((n) => [...n.slice(-4), { id, text, error: isError }]);
    if (!isError) setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 4000);
  };
  const dismiss = (id) => setNotices((n) => n.filter((x) => x.id !== id));

  const act = async (name, action) => {
    if (action === 'delete' && !window.confirm(`Delete VM ${name}? Its disk and state go with it.`)) {
      return;
    }
    try {
      if (action === 'delete') await del(vmPath(name));
      else await post(`${vmPath(name)}/${action}`);
      say(`${name}: ${action} done`);
    } catch (e) {
      say(`${name}: ${action} failed: ${e.message}`, true);
    }
  };

  return (
    <div class="layout">
      <header>
        <h1>hype</h1>
        <span class={`conn ${live ? 'live' : 'down'}`} data-live={live ? 'yes' : 'no'}>
          {live ? 'live' : 'reconnecting…'}
        </span>
        <Host host={host} now={now} />
        {logout && (
          <button class="logout" onClick={logout} title={session.expires_at ? `Session ends ${session.expires_at}` : ''}>
            Log out
          </button>
        )}
      </header>
      <Notices notices={notices} dismiss={dismiss} />
      <main>
        <section class="card">
          <div class="bar">
            <h2>VMs {vms && <span class="count">{vms.length}</span>}</h2>
            <button class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
              {creating ? 'Close' : 'Create VM'}
            </button>
          </div>
          {creating && (
            <CreateForm
              host={host}
              done={(name) => {
                setCreating(false);
                say(`${name}: created`);
              }}
            />
          )}
          {error && <p class="error">{error}</p>}
          {vms == null ? (
            <p class="muted">Loading…</p>
          ) : vms.length === 0 ? (
            <p class="muted empty">No VMs yet.</p>
          ) : (
            <table class="vms">
              <thead>
                <tr>
                  <th>name</th><th>state</th><th>image</th><th>CPUs</th><th>memory</th>
                  <th>address</th><th>VMM</th><th>created</th><th>TTL left</th><th />
                </tr>
              </thead>
              <tbody>
                {vms.map((vm) => (
                  <VmRow
                    key={vm.name}
                    vm={vm}
                    now={now}
                    flash={changed[vm.name]}
                    selected={selected === vm.name}
                    select={(n) => setSelected(selected === n ? null : n)}
                    act={act}
                  />
                ))}
              </tbody>
            </table>
          )}
        </section>
        {selected && <Logs name={selected} close={() => setSelected(null)} />}
        {selected && <Recordings name={selected} />}
        <Jobs jobs={jobs} say={say} />
      </main>
    </div>
  );
}
