// Session recordings: the list of a VM's (on the console, under its serial
// log) and the replay page, /recordings/ID, where rrweb's Replayer plays
// the events from GET /api/v1/recordings/ID/events with a timeline of our
// own (play/pause, seek, speed).
import { useEffect, useRef, useState } from 'preact/hooks';
import { Replayer } from 'rrweb';
import 'rrweb/dist/style.css';

import { del, get, vmPath } from './api.js';
import { bytes, duration } from './format.js';

const recPath = (id) => `/api/v1/recordings/${encodeURIComponent(id)}`;

export function Recordings({ name }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    get(`${vmPath(name)}/recordings`)
      .then((l) => {
        setItems(l.items);
        setError(null);
      })
      .catch((e) => setError(e.message));
  useEffect(() => {
    setItems(null);
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [name]);
  const remove = (id) => del(recPath(id)).then(load, (e) => setError(e.message));
  return (
    <section class="card recordings">
      <h2>Recordings of {name}</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {items && !items.length && <p class="muted">None: create a browser sandbox with “record” to record its pages.</p>}
      {items && items.length > 0 && (
        <table>
          <thead>
            <tr><th>started</th><th>length</th><th>events</th><th>tabs</th><th>size</th><th /></tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-recording={r.id}>
                <td>{r.started_at}</td>
                <td>{r.ended_at ? duration((Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000) : 'recording'}</td>
                <td class="num">{r.events}</td>
                <td class="num">{r.pages}</td>
                <td class="num" title={r.note || ''}>{bytes(r.size_bytes)}{r.note ? ' (stopped)' : ''}</td>
                <td class="actions">
                  <a class="button" href={`/recordings/${encodeURIComponent(r.id)}`}>replay</a>
                  <button class="danger" onClick={() => remove(r.id)}>delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const clock = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export function Replay({ id }) {
  const [meta, setMeta] = useState(null);
  const [error, setError] = useState(null);
  const [state, setState] = useState('loading');
  const [at, setAt] = useState(0);
  const [total, setTotal] = useState(0);
  const [speed, setSpeed] = useState(1);
  const root = useRef(null);
  const player = useRef(null);

  useEffect(() => {
    let timer = null;
    Promise.all([get(recPath(id)), get(`${recPath(id)}/events`)])
      .then(([m, events]) => {
        setMeta(m);
        if (events.length < 2) {
          setState('empty');
          return;
        }
        const r = new Replayer(events, { root: root.current, mouseTail: false, showWarning: false });
        player.current = r;
        setTotal(r.getMetaData().totalTime);
        r.on('finish', () => {
          setAt(r.getCurrentTime());
          setState('finished');
        });
        // Shows the first frame, paused.
        r.pause(0);
        setState('paused');
        timer = setInterval(() => {
          if (r.service.state.matches('playing')) setAt(r.getCurrentTime());
        }, 100);
      })
      .catch((e) => setError(e.message));
    return () => {
      clearInterval(timer);
      player.current?.destroy();
    };
  }, [id]);

  const r = player.current;
  const play = () => {
    if (!r) return;
    r.play(state === 'finished' ? 0 : r.getCurrentTime());
    setState('playing');
  };
  const pause = () => {
    r?.pause();
    setState('paused');
  };
  const seek = (ms) => {
    if (!r) return;
    if (state === 'playing') r.play(ms);
    else r.pause(ms);
    setAt(ms);
    if (state === 'finished') setState('paused');
  };
  const setRate = (s) => {
    setSpeed(s);
    r?.setConfig({ speed: s });
  };

  return (
    <main class="replay">
      <header class="card">
        <a href="/">← console</a>{' '}
        <h2>Recording {meta ? `of ${meta.vm}, ${meta.started_at}` : id}</h2>
        {meta && (
          <p class="muted">
            {meta.events} events, {meta.pages} tab(s), {bytes(meta.size_bytes)}
            {meta.note ? ` — ${meta.note}` : ''}
          </p>
        )}
        {error && <p class="error" role="alert">{error}</p>}
        {state === 'empty' && <p class="muted">Nothing was recorded.</p>}
      </header>
      <div class="timeline card" data-state={state} data-at={Math.round(at)} data-total={Math.round(total)}>
        {state === 'playing' ? (
          <button onClick={pause}>pause</button>
        ) : (
          <button class="primary" onClick={play} disabled={!r}>play</button>
        )}
        <input type="range" aria-label="timeline" min="0" max={total} step="10" value={Math.min(at, total)}
          onInput={(e) => seek(Number(e.currentTarget.value))} disabled={!r} />
        <span class="time">{clock(Math.min(at, total))} / {clock(total)}</span>
        <select aria-label="speed" value={speed} onChange={(e) => setRate(Number(e.currentTarget.value))}>
          {[1, 2, 4, 8, 16].map((s) => <option value={s}>{s}×</option>)}
        </select>
      </div>
      <div class="player" ref={root} />
    </main>
  );
}
