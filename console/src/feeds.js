// The console's live state: VMs from GET /api/v1/vms kept current by the
// lifecycle stream (a row's state changes as its event arrives; the list
// is re-read shortly after, for new VMs and the fields events do not
// carry), import jobs from GET /api/v1/jobs and their own stream, and the
// host's figures from GET /api/v1/status and the pools.
import { useEffect, useRef, useState } from 'preact/hooks';

import { all, get } from './api.js';
import { follow } from './streams.js';

// Every lifecycle event type hyped sends (CONTRACT.md, Events).
const VM_EVENTS = [
  'VM_CREATED', 'VM_STARTING', 'VM_RUNNING', 'VM_PAUSED', 'VM_RESUMED', 'VM_STOPPED',
  'VM_CRASHED', 'VM_DELETED', 'VM_SNAPSHOTTED', 'VM_RESTORED', 'SNAPSHOT_CREATED',
  'SNAPSHOT_DELETED', 'DOWNLOAD_COMPLETED',
];
const JOB_EVENTS = [
  'JOB_QUEUED', 'JOB_STARTED', 'JOB_PROGRESS', 'JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED',
  'JOB_RESUMED',
];

/// Calls `f` once, `ms` after the last of a burst of calls.
function debounced(f, ms) {
  let t = null;
  const call = () => {
    clearTimeout(t);
    t = setTimeout(f, ms);
  };
  call.cancel = () => clearTimeout(t);
  return call;
}

export function useVms(onEvent) {
  const [vms, setVms] = useState(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState(null);
  const [changed, setChanged] = useState({});
  const hook = useRef(onEvent);
  hook.current = onEvent;

  useEffect(() => {
    const load = () =>
      all('/api/v1/vms', 'vms')
        .then((list) => {
          setVms(list);
          setError(null);
        })
        .catch((e) => setError(e.message));
    const reload = debounced(load, 250);
    const apply = (ev) => {
      setVms((list) => {
        if (!list) return list;
        if (ev.type === 'VM_DELETED') return list.filter((v) => v.name !== ev.vm);
        return list.map((v) =>
          v.name === ev.vm ? { ...v, state: ev.state, updated_at: ev.at } : v,
        );
      });
      setChanged((c) => ({ ...c, [ev.vm]: ev.id }));
      if (hook.current) hook.current(ev);
      reload();
    };
    const events = Object.fromEntries(VM_EVENTS.map((t) => [t, apply]));
    const stop = follow('/api/v1/events/vms', {
      open: () => {
        setLive(true);
        load();
      },
      events,
      failed: () => setLive(false),
    });
    return () => {
      stop();
      reload.cancel();
    };
  }, []);
  return { vms, live, error, changed };
}

export function useJobs() {
  const [jobs, setJobs] = useState(null);
  useEffect(() => {
    const load = () =>
      get('/api/v1/jobs?limit=50')
        .then((page) => setJobs(page.jobs))
        .catch(() => setJobs((j) => j || []));
    const upsert = (ev) =>
      setJobs((list) => {
        const job = ev.job;
        const rest = (list || []).filter((j) => j.id !== job.id);
        return [job, ...rest].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
      });
    return follow('/api/v1/events/jobs', {
      open: load,
      events: Object.fromEntries(JOB_EVENTS.map((t) => [t, upsert])),
    });
  }, []);
  return jobs;
}

/// The host's figures, every `everyMs` and when `poke` changes.
export function useHost(poke, everyMs = 5000) {
  const [host, setHost] = useState(null);
  useEffect(() => {
    let gone = false;
    const load = () =>
      Promise.all([get('/api/v1/status'), get('/api/v1/pools').catch(() => ({ pools: [] }))])
        .then(([status, pools]) => !gone && setHost({ status, pools: pools.pools }))
        .catch(() => {});
    load();
    const t = setInterval(load, everyMs);
    return () => {
      gone = true;
      clearInterval(t);
    };
  }, [poke]);
  return host;
}
