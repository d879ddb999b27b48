// The console's root: asks hyped whether a login is needed (GET
// /api/v1/session), shows the login form or the console, and goes back to
// the login whenever the API answers 401.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { get, del, onUnauthorized } from './api.js';
import { Login } from './login.jsx';
import { Console } from './console.jsx';
import { Live } from './live.jsx';
import { Replay } from './recordings.jsx';
import './style.css';

// hyped serves this page at /vms/NAME/live too: the live view.
const livePath = location.pathname.match(/^\/vms\/([^/]+)\/live$/);
// ... and at /recordings/ID, a recording's replay.
const replayPath = location.pathname.match(/^\/recordings\/([^/]+)$/);
// A live link carries its own token: no login, no session, no other API.
const linkToken = livePath && new URLSearchParams(location.search).get('token');

function App() {
  // null while asking; then the session as hyped describes it.
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);

  const check = () =>
    get('/api/v1/session')
      .then((s) => {
        setSession(s);
        setError(null);
      })
      .catch((e) => setError(e.message));

  useEffect(() => {
    if (linkToken) return;
    onUnauthorized(() => setSession((s) => (s ? { ...s, authenticated: false } : s)));
    check();
  }, []);

  if (linkToken) return <Live name={decodeURIComponent(livePath[1])} token={linkToken} />;

  if (error) {
    return (
      <main class="center">
        <p class="error" role="alert">{error}</p>
        <button onClick={check}>Retry</button>
      </main>
    );
  }
  if (!session) return <main class="center">Connecting to hyped…</main>;
  if (!session.authenticated) return <Login done={setSession} />;
  const logout = session.key_required
    ? async () => {
        await del('/api/v1/session').catch(() => {});
        setSession({ ...session, authenticated: false, expires_at: null });
      }
    : null;
  if (livePath) return <Live name={decodeURIComponent(livePath[1])} />;
  if (replayPath) return <Replay id={decodeURIComponent(replayPath[1])} />;
  return <Console session={session} logout={logout} />;
}

render(<App />, document.getElementById('app'));
