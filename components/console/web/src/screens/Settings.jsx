// Settings an admin needs: custom field definitions, auto-create rules per channel, tokens.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { Dialog, Problem, useAction } from '../ui.jsx';

const CUSTOM_TYPES = ['text', 'long_text', 'number', 'checkbox', 'date', 'datetime', 'single_select', 'multi_select', 'link', 'email', 'phone'];
const STAGES = ['lead', 'contact', 'customer'];
const MATCH_KEYS = ['email', 'phone'];

export function Settings({ session }) {
  return (
    <div class="settings">
      <h1>Settings</h1>
      <CustomFields session={session} />
      <AutocreateRules session={session} />
      {session.can('POST', '/api/tokens') && <Tokens />}
    </div>
  );
}

const splitOptions = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const hasOptions = (type) => type === 'single_select' || type === 'multi_select';

function CustomFields({ session }) {
  const [fields, setFields] = useState([]);
  const [draft, setDraft] = useState({ key: '', label: '', type: 'text', options: '' });
  const [editing, setEditing] = useState(null);
  const action = useAction();
  const load = () => api.get('/api/fields').then((r) => setFields(r.items.filter((f) => !f.system)), action.setError);
  useEffect(() => {
    load();
  }, []);
  const create = (e) => {
    e.preventDefault();
    action.run(async () => {
      const body = { key: draft.key, label: draft.label, type: draft.type };
      if (hasOptions(draft.type)) body.options = splitOptions(draft.options);
      await api.post('/api/fields', body);
      setDraft({ key: '', label: '', type: 'text', options: '' });
      await load();
    });
  };
  const remove = (f) =>
    action.run(async () => {
      await api.del(`/api/fields/${enc(f.key.replace(/^custom\./, ''))}`);
      await load();
    });
  const bad = (name) => (action.error?.field === name ? 'true' : undefined);
  return (
    <section class="card" aria-labelledby="s-fields">
      <h2 id="s-fields">Custom fields</h2>
      <table class="simple">
        <thead>
          <tr>
            <th scope="col">Label</th>
            <th scope="col">Key</th>
            <th scope="col">Type</th>
            <th scope="col">Options</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {fields.map((f) => (
            <tr>
              <td>{f.label}</td>
              <td>
                <code>{f.key}</code>
              </td>
              <td>{f.type}</td>
              <td>{(f.options || []).join(', ')}</td>
              <td class="row-actions">
                {session.can('PATCH', '/api/fields/{key}') && (
                  <button type="button" onClick={() => setEditing(f)}>
                    Edit
                  </button>
                )}
                {session.can('DELETE', '/api/fields/{key}') && (
                  <button type="button" class="danger" aria-label={`Delete field ${f.label}`} onClick={() => remove(f)}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {session.can('POST', '/api/fields') && (
        <form class="inline wrap" onSubmit={create} aria-label="New custom field">
          <label>
            Label <input required value={draft.label} aria-invalid={bad('label')} onInput={(e) => setDraft({ ...draft, label: e.target.value })} />
          </label>
          <label>
            Key <input required pattern="[a-z][a-z0-9_]*" value={draft.key} aria-invalid={bad('key')} onInput={(e) => setDraft({ ...draft, key: e.target.value })} />
          </label>
          <label>
            Type
            <select value={draft.type} aria-invalid={bad('type')} onChange={(e) => setDraft({ ...draft, type: e.target.value })}>
              {CUSTOM_TYPES.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          {hasOptions(draft.type) && (
            <label>
              Options (comma-separated)
              <input required value={draft.options} aria-invalid={bad('options')} onInput={(e) => setDraft({ ...draft, options: e.target.value })} />
            </label>
          )}
          <button type="submit" class="primary" disabled={action.busy}>
            Add field
          </button>
        </form>
      )}
      <Problem error={action.error} />
      {editing && <EditField field={editing} onClose={() => setEditing(null)} onSaved={load} />}
    </section>
  );
}

function EditField({ field, onClose, onSaved }) {
  const [label, setLabel] = useState(field.label);
  const [options, setOptions] = useState((field.options || []).join(', '));
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const body = { label };
      if (hasOptions(field.type)) body.options = splitOptions(options);
      await api.patch(`/api/fields/${enc(field.key.replace(/^custom\./, ''))}`, body);
      await onSaved();
      onClose();
    });
  };
  return (
    <Dialog title={`Edit field ${field.key}`} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <label for="field-label">Label</label>
        <input id="field-label" required value={label} onInput={(e) => setLabel(e.target.value)} />
        {hasOptions(field.type) && (
          <>
            <label for="field-options">Options (comma-separated)</label>
            <input id="field-options" value={options} onInput={(e) => setOptions(e.target.value)} />
          </>
        )}
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy}>Save field</button>
        </div>
      </form>
    </Dialog>
  );
}

function AutocreateRules({ session }) {
  const [doc, setDoc] = useState(null);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const canSave = session.can('PUT', '/api/settings/autocreate');
  useEffect(() => {
    api.get('/api/settings/autocreate').then(setDoc, action.setError);
  }, []);
  if (!doc) return <Problem error={action.error} />;
  const set = (channel, patch) => {
    setSaved(false);
    setDoc({ channels: { ...doc.channels, [channel]: { ...doc.channels[channel], ...patch } } });
  };
  const save = () =>
    action.run(async () => {
      setDoc(await api.put('/api/settings/autocreate', doc));
      setSaved(true);
    });
  return (
    <section class="card" aria-labelledby="s-autocreate">
      <h2 id="s-autocreate">Auto-create rules</h2>
      <p class="muted">Per channel: whether a chat creates a contact, which keys match an existing one, and the new contact's lead stage.</p>
      <table class="simple">
        <thead>
          <tr>
            <th scope="col">Channel</th>
            <th scope="col">Enabled</th>
            {MATCH_KEYS.map((k) => (
              <th scope="col">Match {k}</th>
            ))}
            <th scope="col">Lead stage</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(doc.channels).map(([channel, rule]) => (
            <tr>
              <th scope="row">{channel}</th>
              <td>
                <input type="checkbox" aria-label={`${channel}: enabled`} disabled={!canSave} checked={rule.enabled} onChange={(e) => set(channel, { enabled: e.target.checked })} />
              </td>
              {MATCH_KEYS.map((k) => (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${channel}: match ${k}`}
                    disabled={!canSave}
                    checked={rule.match.includes(k)}
                    onChange={(e) => set(channel, { match: e.target.checked ? [...rule.match, k] : rule.match.filter((m) => m !== k) })}
                  />
                </td>
              ))}
              <td>
                <select aria-label={`${channel}: lead stage`} disabled={!canSave} value={rule.lead_stage} onChange={(e) => set(channel, { lead_stage: e.target.value })}>
                  {STAGES.map((s) => (
                    <option value={s}>{s}</option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Problem error={action.error} />
      {canSave && (
        <div class="actions">
          {saved && (
            <span class="ok" role="status">
              Saved.
            </span>
          )}
          <button type="button" class="primary" disabled={action.busy} onClick={save}>
            Save rules
          </button>
        </div>
      )}
    </section>
  );
}

function Tokens() {
  const [login, setLogin] = useState('');
  const [role, setRole] = useState('agent');
  const [issued, setIssued] = useState(null);
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      setIssued(await api.post('/api/tokens', { login, role }));
      setLogin('');
    });
  };
  return (
    <section class="card" aria-labelledby="s-tokens">
      <h2 id="s-tokens">Access tokens</h2>
      <form class="inline wrap" onSubmit={submit} aria-label="New access token">
        <label>
          Login <input required value={login} aria-invalid={action.error?.field === 'login' ? 'true' : undefined} onInput={(e) => setLogin(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="agent">agent</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Issue token
        </button>
      </form>
      <Problem error={action.error} />
      {issued && (
        <div class="issued" role="status">
          Token for <strong>{issued.login}</strong> ({issued.role}), shown only now:
          <output class="token" aria-label="New token">{issued.token}</output>
        </div>
      )}
    </section>
  );
}
