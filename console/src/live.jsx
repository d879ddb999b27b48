// The live view of a browser sandbox (/vms/NAME/live): one WebSocket to
// /api/v1/vms/NAME/live/ws. Binary messages are JPEG frames, drawn on the
// canvas; text messages are the tab list and the page's size. Mouse, wheel
// and keys on the canvas go back as input, in the page's CSS pixels.
// Opened from a live link (?token=), the socket carries the token; a
// view-only link's page sends no input (and hyped would refuse it).
import { useEffect, useRef, useState } from 'preact/hooks';

import { get, vmPath } from './api.js';

const BUTTONS = ['left', 'middle', 'right', 'back', 'forward'];

const modifiers = (e) => (e.altKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.metaKey ? 4 : 0) | (e.shiftKey ? 8 : 0);

// The text a key types in the sandbox: Enter's carriage return, a
// printable character without Control or Meta, else nothing (a shortcut
// or a named key, which CDP sends as a raw key).
const typed = (e) => (e.key === 'Enter' ? '\r' : e.key.length === 1 && !e.ctrlKey && !e.metaKey ? e.key : '');

export function Live({ name, token }) {
  const canvas = useRef(null);
  const sock = useRef(null);
  // The page's size in CSS pixels, which input coordinates are in.
  const page = useRef({ width: 0, height: 0 });
  const [tabs, setTabs] = useState([]);
  const [status, setStatus] = useState('connecting');
  const [error, setError] = useState(null);
  // Whether input may be sent: hyped says so first; until then, none.
  const [interactive, setInteractive] = useState(false);
  const canSend = useRef(false);

  useEffect(() => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    const ws = new WebSocket(`${proto}//${location.host}${vmPath(name)}/live/ws${query}`);
    ws.binaryType = 'blob';
    sock.current = ws;
    let opened = false;
    let count = 0;
    // One frame decodes at a time; a frame arriving meanwhile replaces
    // the one waiting, as hyped does for a slow viewer.
    let decoding = false;
    let waiting = null;
    const draw = async (blob) => {
      if (decoding) {
        waiting = blob;
        return;
      }
      decoding = true;
      try {
        const bmp = await createImageBitmap(blob);
        const c = canvas.current;
        if (c) {
          if (c.width !== bmp.width || c.height !== bmp.height) {
            c.width = bmp.width;
            c.height = bmp.height;
          }
          c.getContext('2d').drawImage(bmp, 0, 0);
          c.dataset.frames = String(++count);
        }
        bmp.close();
      } catch {
        // A frame that does not decode is skipped; the next one comes.
      }
      decoding = false;
      if (waiting) {
        const b = waiting;
        waiting = null;
        draw(b);
      }
    };
    ws.onopen = () => {
      opened = true;
      setStatus('live');
      setError(null);
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return draw(m.data);
      const n = JSON.parse(m.data);
      if (n.type === 'access') {
        canSend.current = n.interactive;
        setInteractive(n.interactive);
      } else if (n.type === 'tabs') setTabs(n.tabs);
      else if (n.type === 'viewport') {
        page.current = { width: n.width, height: n.height };
        const c = canvas.current;
        if (c) Object.assign(c.dataset, { pageWidth: n.width, pageHeight: n.height });
      }
      else if (n.type === 'error') setError(n.message);
    };
    ws.onclose = (e) => {
      setStatus('closed');
      if (e.reason) setError(e.reason);
      else if (!opened && token) setError('This live link has expired, or its VM was deleted.');
      else if (!opened) {
        // A refused upgrade has no readable status: ask the API why.
        get(vmPath(name))
          .then((vm) =>
            setError(vm.state !== 'running' ? `${name} is ${vm.state}` : vm.live_url ? `${name}'s browser did not answer` : `${name} has no browser`),
          )
          .catch((err) => setError(err.message));
      }
    };
    return () => ws.close();
  }, [name, token]);

  const send = (o) => {
    const ws = sock.current;
    if (!canSend.current) return;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(o));
  };
  const at = (e) => {
    const c = canvas.current;
    const r = c.getBoundingClientRect();
    const w = page.current.width || c.width;
    const h = page.current.height || c.height;
    return { x: ((e.clientX - r.left) * w) / r.width, y: ((e.clientY - r.top) * h) / r.height };
  };
  const mouse = (action, button) => (e) => {
    e.preventDefault();
    if (action === 'mousePressed') canvas.current.focus();
    send({ type: 'mouse', action, ...at(e), button, clickCount: Math.min(e.detail || 1, 3), modifiers: modifiers(e) });
  };
  // Moves go at most once a frame.
  const moving = useRef(false);
  const onMove = (e) => {
    if (moving.current) return;
    moving.current = true;
    const p = at(e);
    const button = e.buttons & 1 ? 'left' : e.buttons & 2 ? 'right' : e.buttons & 4 ? 'middle' : 'none';
    requestAnimationFrame(() => {
      moving.current = false;
      send({ type: 'mouse', action: 'mouseMoved', ...p, button, modifiers: modifiers(e) });
    });
  };
  const key = (action) => (e) => {
    e.preventDefault();
    send({ type: 'key', action, key: e.key, code: e.code, text: action === 'keyDown' ? typed(e) : '', modifiers: modifiers(e) });
  };

  return (
    <div class="layout live">
      <header>
        <h1>
          {token ? 'hype' : <a href="/">hype</a>} · {name}
        </h1>
        {status === 'live' && !interactive && (
          <span class="conn view-only" data-access="view-only">
            view only
          </span>
        )}
        <span class={`conn ${status === 'live' ? 'live' : 'down'}`} data-status={status}>
          {status}
        </span>
      </header>
      <main>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <nav class="tabs" aria-label="Tabs">
          {tabs.map((t) => (
            <button
              key={t.id}
              class={t.current ? 'tab current' : 'tab'}
              data-tab={t.id}
              aria-pressed={t.current}
              disabled={!interactive}
              title={t.url}
              onClick={() => send({ type: 'tab', id: t.id })}
            >
              {t.title || t.url || 'untitled'}
            </button>
          ))}
        </nav>
        <canvas
          ref={canvas}
          class="screen"
          tabIndex={0}
          width={1280}
          height={800}
          onMouseDown={(e) => mouse('mousePressed', BUTTONS[e.button] || 'none')(e)}
          onMouseUp={(e) => mouse('mouseReleased', BUTTONS[e.button] || 'none')(e)}
          onMouseMove={onMove}
          onWheel={(e) => {
            e.preventDefault();
            send({ type: 'mouse', action: 'mouseWheel', ...at(e), deltaX: e.deltaX, deltaY: e.deltaY, modifiers: modifiers(e) });
          }}
          onKeyDown={key('keyDown')}
          onKeyUp={key('keyUp')}
          onContextMenu={(e) => e.preventDefault()}
        />
      </main>
    </div>
  );
}
