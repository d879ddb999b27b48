// A VM's serial console, followed as `hype vms logs -f` follows it: GET
// .../logs?follow=true sends what the console has, then each new line,
// then `end` when the VM is deleted. A stream cut off starts over, since
// hyped sends the console whole again.
import { useEffect, useRef, useState } from 'preact/hooks';

import { get, vmPath } from './api.js';
import { printable } from './format.js';

const KEPT = 2000;

export function Logs({ name, close }) {
  const [lines, setLines] = useState([]);
  const [ended, setEnded] = useState(null);
  const box = useRef(null);
  const pinned = useRef(true);

  useEffect(() => {
    setLines([]);
    setEnded(null);
    let src = null;
    let retry = null;
    const start = () => {
      setLines([]);
      src = new EventSource(`${vmPath(name)}/logs?follow=true&tail=500`, { withCredentials: true });
      src.addEventListener('log', (m) =>
        setLines((l) => {
          const next = l.length >= KEPT ? l.slice(l.length - KEPT + 1) : l.slice();
          next.push(printable(m.data));
          return next;
        }),
      );
      src.addEventListener('end', (m) => {
        setEnded(m.data);
        src.close();
      });
      // EventSource hides the status; ask whether the VM is still there
      // before following it again.
      src.onerror = () => {
        src.close();
        get(vmPath(name)).then(
          () => (retry = setTimeout(start, 2000)),
          (e) => (e.status === 404 ? setEnded('no such VM') : (retry = setTimeout(start, 2000))),
        );
      };
    };
    start();
    return () => {
      clearTimeout(retry);
      if (src) src.close();
    };
  }, [name]);

  useEffect(() => {
    if (pinned.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  const scrolled = () => {
    const b = box.current;
    pinned.current = b.scrollTop + b.clientHeight >= b.scrollHeight - 4;
  };

  return (
    <section class="card logs" aria-label={`Serial log of ${name}`}>
      <div class="bar">
        <h2>
          Serial log: <span class="mono">{name}</span>
        </h2>
        <span class="muted">{ended ? `ended: ${ended}` : 'following'}</span>
        <button onClick={close}>Close</button>
      </div>
      <pre ref={box} onScroll={scrolled} data-vm={name}>
        {lines.join('\n')}
      </pre>
    </section>
  );
}
