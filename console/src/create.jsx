// The create form: a VM from an image (CPUs, memory), from a warm pool, or
// forked from a named snapshot (those decide the image, CPUs and memory),
// with an optional TTL. The API's own message says what it refused.
import { useEffect, useState } from 'preact/hooks';

import { get, post } from './api.js';

export function CreateForm({ host, done }) {
  const [images, setImages] = useState([]);
  const [snapshots, setSnapshots] = useState([]);
  const [source, setSource] = useState('image');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const pools = (host && host.pools) || [];

  useEffect(() => {
    get('/api/v1/images').then((l) => setImages(l.images)).catch(() => {});
    get('/api/v1/snapshots').then((l) => setSnapshots(l.snapshots)).catch(() => {});
  }, []);

  const submit = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget.elements;
    const body = { name: f.name.value.trim() };
    if (source === 'image') {
      if (f.image.value) body.image = f.image.value;
      body.cpu_cores = Number(f.cpu.value);
      body.memory_mb = Number(f.memory.value);
    } else if (source === 'pool') {
      body.pool = f.pool.value;
    } else {
      body.snapshot = f.snapshot.value;
    }
    if (f.ttl.value) body.ttl_seconds = Number(f.ttl.value);
    setBusy(true);
    setError(null);
    try {
      await post('/api/v1/vms', body);
      done(body.name);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="create" onSubmit={submit} onInput={() => error && setError(null)} aria-label="Create a VM">
      <label>
        name
        <input name="name" required pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" placeholder="s1"
          title="1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit" />
      </label>
      <label>
        from
        <select name="source" value={source} onChange={(e) => setSource(e.currentTarget.value)}>
          <option value="image">an image</option>
          <option value="pool" disabled={!pools.length}>a warm pool</option>
          <option value="snapshot" disabled={!snapshots.length}>a snapshot</option>
        </select>
      </label>
      {source === 'image' && (
        <>
          <label>
            image
            <select name="image">
              <option value="">hyped’s default</option>
              {images.map((i) => (
                <option key={i.name} value={i.name}>{i.name}</option>
              ))}
            </select>
          </label>
          <label>
            CPUs
            <input name="cpu" type="number" min="1" defaultValue="1" required />
          </label>
          <label>
            memory (MiB)
            <input name="memory" type="number" min="128" step="64" defaultValue="512" required />
          </label>
        </>
      )}
      {source === 'pool' && (
        <label>
          pool
          <select name="pool">
            {pools.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name} ({p.image}, {p.ready}/{p.size} ready)
              </option>
            ))}
          </select>
        </label>
      )}
      {source === 'snapshot' && (
        <label>
          snapshot
          <select name="snapshot">
            {snapshots.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} (of {s.vm}, {s.image})
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        TTL (s)
        <input name="ttl" type="number" min="1" max="604800" placeholder="none" />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create'}
      </button>
      {error && (
        <p class="error wide" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
