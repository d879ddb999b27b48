// The login form: the API key goes once, in a POST body, to
// /api/v1/session, which answers with an HttpOnly session cookie. The key
// is kept nowhere in the page (not in storage, not in a URL).
import { useState } from 'preact/hooks';

import { post } from './api.js';

export function Login({ done }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const key = form.elements.key.value;
    setBusy(true);
    try {
      const s = await post('/api/v1/session', { key });
      form.reset();
      done(s);
    } catch (e) {
      setError(e.status === 401 ? 'That is not this hyped’s API key.' : e.message);
      setBusy(false);
    }
  };

  // method=post: should the script ever not run, a submit still never
  // puts the key in the URL.
  return (
    <main class="center">
      <form class="login card" method="post" action="/api/v1/session" onSubmit={submit}>
        <h1>hype</h1>
        <p>This hyped needs its API key (<code>--api-key</code>).</p>
        <label>
          API key
          <input name="key" type="password" autocomplete="current-password" required autofocus />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
