import { useState } from 'preact/hooks';
import { api, signIn, signOut } from '../api.js';

/** Sign-in with a bearer token; it is kept for this browser tab's session only. */
export function SignIn({ onSignedIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    signIn(value.trim());
    try {
      await api.get('/api/me');
      onSignedIn();
    } catch (err) {
      if (err.status !== 401) signOut();
      setError(err.status === 401 ? 'This token is not valid.' : err.message);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} class="card">
        <h1>Sign in to Contacts</h1>
        <p class="muted">Paste the access token your admin gave you. It is kept only until you close this tab.</p>
        <label for="token">Access token</label>
        <input id="token" type="password" autocomplete="off" required value={value} onInput={(e) => setValue(e.target.value)} />
        {error && (
          <p class="problem" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
