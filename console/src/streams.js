// Server-sent event streams. The browser's EventSource reconnects by
// itself and sends Last-Event-ID, from which hyped replays what was missed;
// an answer other than 200 (401 once a session expired) closes it for good,
// so those are retried here after the caller has had a say.

export function follow(path, { open, events, failed, retryMs = 2000 }) {
  let src = null;
  let stopped = false;
  let timer = null;
  const start = () => {
    src = new EventSource(path, { withCredentials: true });
    src.onopen = () => open && open();
    for (const [type, handle] of Object.entries(events)) {
      src.addEventListener(type, (m) => {
        let data = m.data;
        try {
          data = JSON.parse(m.data);
        } catch {
          // Plain-text frames (console lines) stay text.
        }
        handle(data, m);
      });
    }
    src.onerror = () => {
      if (failed) failed(src.readyState === EventSource.CLOSED);
      if (src.readyState === EventSource.CLOSED && !stopped) {
        timer = setTimeout(start, retryMs);
      }
    };
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (src) src.close();
  };
}
