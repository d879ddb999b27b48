// The record script hyped injects into every page of a recorded sandbox
// (through CDP, before the page's own scripts): rrweb records the DOM and
// its changes, and the events go in batches to the CDP binding hyped
// added, `__hypeRec`. Nothing else leaves the page. It runs once per
// document and only in the top frame (rrweb records same-origin frames
// from there).
import { record } from 'rrweb';

(() => {
  const send = window.__hypeRec;
  if (window !== window.top || typeof send !== 'function' || window.__hypeRecording) return;
  Object.defineProperty(window, '__hypeRecording', { value: true });
  let batch = [];
  const flush = () => {
    if (!batch.length) return;
    const out = batch;
    batch = [];
    try {
      send(JSON.stringify(out));
    } catch {
      // A page that broke JSON.stringify is not recorded further.
    }
  };
  record({
    emit(e) {
      batch.push(e);
      // A full snapshot goes at once: the page may be about to leave.
      if (e.type === 2 || batch.length >= 100) flush();
    },
    // Passwords and what is typed into them are never recorded.
    maskInputOptions: { password: true },
    sampling: { mousemove: 100, scroll: 150, input: 'last' },
  });
  setInterval(flush, 500);
  addEventListener('pagehide', flush);
})();
