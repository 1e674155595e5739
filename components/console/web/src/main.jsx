import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './app.css';
import { loadSession, onSignedOut, signOut, token } from './api.js';
import { href, useRoute } from './router.js';
import { SignIn } from './screens/SignIn.jsx';
import { Contacts } from './screens/Contacts.jsx';
import { ContactPage } from './screens/ContactPage.jsx';
import { Settings } from './screens/Settings.jsx';
import { ImportWizard } from './features/ImportWizard.jsx';
import { ResumeJobs } from './features/Bulk.jsx';

function App() {
  const [session, setSession] = useState(null);
  const [loading, setLoading] = useState(Boolean(token()));
  const route = useRoute();

  const start = async () => {
    setLoading(true);
    try {
      setSession(await loadSession());
    } catch {
      setSession(null);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    onSignedOut(() => setSession(null));
    if (token()) start();
  }, []);

  if (loading) return <p class="loading">Loading…</p>;
  if (!session) return <SignIn onSignedIn={start} />;

  const nav = [
    ['contacts', 'Contacts', true],
    ['import', 'Import', session.can('POST', '/api/imports')],
    ['settings', 'Settings', session.can('POST', '/api/fields')],
  ];
  // A screen this caller is not offered (a link kept from another role) shows Contacts.
  const offered = (key) => key === 'contact' || nav.some(([k, , shown]) => k === key && shown);
  const [screen, ...rest] = offered(route[0]) ? route : ['contacts'];
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Contacts</span>
        <nav aria-label="Main">
          {nav
            .filter(([, , shown]) => shown)
            .map(([key, label]) => (
              <a href={href(key)} aria-current={screen === key || (screen === 'contact' && key === 'contacts') ? 'page' : undefined}>
                {label}
              </a>
            ))}
        </nav>
        <span class="who">
          {session.me.login} <span class="badge">{session.me.role}</span>
        </span>
        <button type="button" onClick={() => { location.hash = ''; signOut(); }}>
          Sign out
        </button>
      </header>
      <ResumeJobs session={session} />
      <main id="main" tabIndex="-1">
        {screen === 'contact' && rest[0] ? (
          <ContactPage key={rest[0]} id={rest[0]} session={session} />
        ) : screen === 'settings' ? (
          <Settings session={session} />
        ) : screen === 'import' ? (
          <ImportWizard session={session} />
        ) : (
          <Contacts session={session} />
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
