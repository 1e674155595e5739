// The contact page: properties in groups, edited with If-Match (a conflicting edit is shown,
// never overwritten), tags, identities, custom fields, history, the duplicate prompt,
// block / unblock, delete.
import { useEffect, useState } from 'preact/hooks';
import { api, enc, request } from '../api.js';
import { go, href } from '../router.js';
import { Dialog, FieldInput, Problem, display, useAction } from '../ui.jsx';
import { DeleteDialog } from '../features/DeleteDialog.jsx';
import { MergeDialog } from '../features/MergeDialog.jsx';
import { merge } from '../features/contract.js';

const GROUPS = [
  ['Contact', ['first_name', 'last_name', 'email', 'secondary_emails', 'phone', 'mobile', 'secondary_phones', 'owner', 'lead_stage']],
  ['Work', ['company', 'job_title', 'department', 'website']],
  ['Address', ['address', 'city', 'state', 'postal_code', 'country', 'timezone', 'language']],
  ['Personal', ['gender', 'birthday', 'description']],
  ['Visitor', ['source_channel', 'visitor_ip', 'browser', 'os', 'device', 'page_url', 'referrer']],
  ['Record', ['contact_id', 'created_at', 'created_by', 'updated_at', 'last_activity_at', 'conversation_count', 'dropped_message_count', 'blocked', 'blocked_at']],
];

export function ContactPage({ id, session }) {
  const [fields, setFields] = useState(null);
  const [contact, setContact] = useState(null);
  const [etag, setEtag] = useState(null);
  const [error, setError] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [historyKey, setHistoryKey] = useState(0);

  const load = async () => {
    try {
      const r = await request('GET', `/api/contacts/${enc(id)}`);
      setContact(r.data);
      setEtag(r.etag);
      setHistoryKey((k) => k + 1);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    api.get('/api/fields').then((f) => setFields(f.items), setError);
    load();
  }, [id]);

  if (error && !contact) return <Problem error={error} />;
  if (!contact || !fields) return <p class="loading">Loading…</p>;

  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  const blockAction = async (blocked) => {
    try {
      if (blocked) await api.del(`/api/blocks/${enc(id)}`);
      else await api.post('/api/blocks', { ids: [id] });
      await load();
    } catch (e) {
      setError(e);
    }
  };
  const custom = fields.filter((f) => !f.system);
  return (
    <article class="contact-page" aria-labelledby="contact-title">
      <p>
        <a href={href('contacts')}>← Contacts</a>
      </p>
      <header class="contact-head">
        <h1 id="contact-title">{contact.display_name || contact.contact_id}</h1>
        {contact.blocked && <span class="badge danger">Blocked</span>}
        <div class="actions">
          {session.can('PATCH', '/api/contacts/{id}') && (
            <button type="button" class="primary" onClick={() => setDialog('edit')}>
              Edit
            </button>
          )}
          {contact.blocked
            ? session.can('DELETE', '/api/blocks/{id}') && (
                <button type="button" onClick={() => blockAction(true)}>
                  Unblock
                </button>
              )
            : session.can('POST', '/api/blocks') && (
                <button type="button" onClick={() => blockAction(false)}>
                  Block
                </button>
              )}
          {session.can('DELETE', '/api/contacts/{id}') && (
            <button type="button" class="danger" onClick={() => setDialog('delete')}>
              Delete
            </button>
          )}
        </div>
      </header>
      <Problem error={error} />
      {contact.possible_duplicates > 0 && <DuplicatePrompt contact={contact} session={session} onMerge={(ids) => setDialog({ merge: ids })} />}
      <div class="contact-grid">
        <div>
          {GROUPS.map(([title, keys]) => (
            <section class="card" aria-labelledby={`g-${title}`}>
              <h2 id={`g-${title}`}>{title}</h2>
              <dl class="props">
                {keys
                  .filter((k) => byKey[k])
                  .map((k) => (
                    <>
                      <dt>{byKey[k].label}</dt>
                      <dd>{display(contact[k]) || <span class="muted">—</span>}</dd>
                    </>
                  ))}
              </dl>
            </section>
          ))}
          {custom.length > 0 && (
            <section class="card" aria-labelledby="g-custom">
              <h2 id="g-custom">Custom fields</h2>
              <dl class="props">
                {custom.map((f) => (
                  <>
                    <dt>{f.label}</dt>
                    <dd>{display(contact.custom?.[f.key.replace(/^custom\./, '')]) || <span class="muted">—</span>}</dd>
                  </>
                ))}
              </dl>
            </section>
          )}
        </div>
        <div>
          <Tags contact={contact} etag={etag} canEdit={session.can('PATCH', '/api/contacts/{id}')} onSaved={load} />
          <section class="card" aria-labelledby="g-identities">
            <h2 id="g-identities">Identities</h2>
            {contact.identities?.length ? (
              <ul class="plain">
                {contact.identities.map((i) => (
                  <li>
                    <span class="badge">{i.channel}</span> {i.external_id}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No chat identities.</p>
            )}
          </section>
          <History key={historyKey} id={id} />
        </div>
      </div>
      {dialog === 'edit' && (
        <EditContact contact={contact} etag={etag} fields={fields} onClose={() => setDialog(null)} onSaved={load} />
      )}
      {dialog === 'delete' && (
        <DeleteDialog target={{ ids: [id] }} session={session} onClose={() => setDialog(null)} onDeleted={() => go('contacts')} />
      )}
      {dialog?.merge && <MergeDialog ids={dialog.merge} onClose={() => setDialog(null)} />}
    </article>
  );
}

/** "This contact may have duplicates", with the list when the merge API is there. */
function DuplicatePrompt({ contact, session, onMerge }) {
  const [items, setItems] = useState(null);
  const canList = session.can('GET', '/api/duplicates/{id}');
  useEffect(() => {
    if (canList) merge.duplicatesOf(contact.contact_id).then(setItems, () => setItems([]));
  }, [contact.contact_id]);
  const n = contact.possible_duplicates;
  return (
    <section class="duplicate-prompt" role="status">
      <strong>
        {n} possible duplicate{n === 1 ? '' : 's'}
      </strong>{' '}
      of this contact.
      {items && items.length > 0 && (
        <>
          <ul class="plain">
            {items.map((d) => (
              <li>
                <a href={href('contact', d.contact_id)}>{d.contact_id}</a> <span class="muted">({d.reasons.join(', ')})</span>
              </li>
            ))}
          </ul>
          {session.can('POST', '/api/merge') && (
            <button type="button" onClick={() => onMerge([contact.contact_id, ...items.map((d) => d.contact_id)].slice(0, 25))}>
              Merge duplicates…
            </button>
          )}
        </>
      )}
    </section>
  );
}

function Tags({ contact, etag, canEdit, onSaved }) {
  const [adding, setAdding] = useState('');
  const action = useAction();
  const save = (tags) =>
    action.run(async () => {
      await api.patch(`/api/contacts/${enc(contact.contact_id)}`, { tags }, { 'if-match': etag });
      setAdding('');
      await onSaved();
    });
  const add = (e) => {
    e.preventDefault();
    if (adding.trim()) save([...(contact.tags || []), adding.trim()]);
  };
  return (
    <section class="card" aria-labelledby="g-tags">
      <h2 id="g-tags">Tags</h2>
      <ul class="tags">
        {(contact.tags || []).map((t) => (
          <li class="tag">
            {t}
            {canEdit && (
              <button type="button" class="icon" aria-label={`Remove tag ${t}`} onClick={() => save(contact.tags.filter((x) => x !== t))}>
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {canEdit && (
        <form onSubmit={add} class="inline">
          <label for="add-tag" class="sr-only">
            New tag
          </label>
          <input id="add-tag" placeholder="Add a tag" value={adding} onInput={(e) => setAdding(e.target.value)} />
          <button type="submit" disabled={action.busy}>
            Add tag
          </button>
        </form>
      )}
      <Problem error={action.error} />
    </section>
  );
}

/**
 * Edits with If-Match: when someone else changed the contact meanwhile (412), the form keeps
 * the user's values and shows theirs beside, to reload and re-apply — never a silent overwrite.
 */
function EditContact({ contact, etag, fields, onClose, onSaved }) {
  const editable = fields.filter((f) => f.writable && f.key !== 'contact_id' && f.key !== 'tags');
  const valueOf = (c, f) => (f.system ? c[f.key] : c.custom?.[f.key.replace(/^custom\./, '')]);
  const [values, setValues] = useState({});
  const [conflict, setConflict] = useState(null);
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const body = {};
      const customs = {};
      for (const [key, v] of Object.entries(values)) {
        if (key.startsWith('custom.')) customs[key.slice(7)] = v;
        else body[key] = v;
      }
      if (Object.keys(customs).length) body.custom = customs;
      try {
        await api.patch(`/api/contacts/${enc(contact.contact_id)}`, body, { 'if-match': etag });
      } catch (err) {
        if (err.status === 412) {
          setConflict(await api.get(`/api/contacts/${enc(contact.contact_id)}`));
          return;
        }
        throw err;
      }
      await onSaved();
      onClose();
    });
  };
  const reloadTheirs = async () => {
    setConflict(null);
    await onSaved();
    onClose();
  };
  return (
    <Dialog title={`Edit ${contact.display_name || contact.contact_id}`} onClose={onClose} wide>
      <form class="stack" onSubmit={submit}>
        {conflict && (
          <div class="problem" role="alert">
            <strong>Someone else changed this contact</strong> since you opened it. Your changes are not saved. Their values are shown
            under each field you changed; reload to start from theirs.
            <button type="button" onClick={reloadTheirs}>
              Reload their version
            </button>
          </div>
        )}
        <div class="edit-grid">
          {editable.map((f) => {
            const id = `edit-${f.key.replace('.', '-')}`;
            const mine = f.key in values ? values[f.key] : valueOf(contact, f);
            const theirs = conflict && f.key in values ? valueOf(conflict, f) : undefined;
            return (
              <div class="form-row">
                <label for={id}>{f.label}</label>
                <FieldInput
                  id={id}
                  field={f}
                  value={mine}
                  invalid={action.error?.field === f.key}
                  onChange={(v) => setValues({ ...values, [f.key]: v })}
                />
                {theirs !== undefined && <span class="theirs">Now: {display(theirs) || '—'}</span>}
              </div>
            );
          })}
        </div>
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy || conflict || Object.keys(values).length === 0}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function History({ id }) {
  const [items, setItems] = useState([]);
  const [next, setNext] = useState(undefined);
  const [error, setError] = useState(null);
  const more = (cursor) =>
    api.get(`/api/contacts/${enc(id)}/history?limit=20${cursor ? `&cursor=${enc(cursor)}` : ''}`).then((p) => {
      setItems((old) => (cursor ? [...old, ...p.items] : p.items));
      setNext(p.next_cursor);
    }, setError);
  useEffect(() => {
    more(null);
  }, [id]);
  return (
    <section class="card" aria-labelledby="g-history">
      <h2 id="g-history">History</h2>
      <Problem error={error} />
      <ol class="timeline">
        {items.map((h) => (
          <li>
            <strong>{h.action}</strong> by {h.actor} <time datetime={h.at}>{new Date(h.at).toLocaleString()}</time>
            {h.fields?.length > 0 && <div class="muted">{h.fields.join(', ')}</div>}
          </li>
        ))}
      </ol>
      {next && (
        <button type="button" onClick={() => more(next)}>
          Older
        </button>
      )}
    </section>
  );
}
