// The merge dialog (SPEC §3): up to 25 contacts, one chosen as primary, the dry run's
// resulting contact shown before the (irreversible) merge.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { go } from '../router.js';
import { merge } from './contract.js';
import { announceChange } from './Bulk.jsx';
import { Dialog, Problem, display, useAction } from '../ui.jsx';

export const MAX_MERGE = 25;
const SHOWN = ['display_name', 'email', 'phone', 'company', 'lead_stage', 'owner', 'tags', 'secondary_emails', 'secondary_phones', 'created_at'];

export function MergeDialog({ ids, onClose }) {
  const [contacts, setContacts] = useState(null);
  const [primary, setPrimary] = useState(ids[0]);
  const [preview, setPreview] = useState(null);
  const action = useAction();
  useEffect(() => {
    action.run(async () => setContacts(await Promise.all(ids.slice(0, MAX_MERGE).map((id) => api.get(`/api/contacts/${enc(id)}`)))));
  }, []);
  const secondaries = ids.filter((id) => id !== primary);
  const showPreview = () => action.run(async () => setPreview(await merge.preview(primary, secondaries)));
  const confirm = () =>
    action.run(async () => {
      const result = await merge.run(primary, secondaries);
      announceChange();
      onClose();
      go('contact', result.contact.contact_id);
    });
  return (
    <Dialog title={`Merge ${ids.length} contacts`} onClose={onClose} wide>
      {ids.length > MAX_MERGE && <p class="problem">At most {MAX_MERGE} contacts merge at once; select fewer.</p>}
      {contacts && (
        <fieldset class="stack">
          <legend>Choose the primary contact (its values win; the others are deleted)</legend>
          {contacts.map((c) => (
            <label class="merge-choice">
              <input type="radio" name="primary" value={c.contact_id} checked={primary === c.contact_id} onChange={() => { setPrimary(c.contact_id); setPreview(null); }} />
              <strong>{c.display_name || c.contact_id}</strong> <span class="muted">{[c.email, c.phone, c.company].filter(Boolean).join(' · ')}</span>
            </label>
          ))}
        </fieldset>
      )}
      {preview && (
        <section aria-labelledby="merge-result">
          <h3 id="merge-result">Result of the merge</h3>
          <dl class="props">
            {SHOWN.map((k) => (
              <>
                <dt>{k.replace(/_/g, ' ')}</dt>
                <dd>{display(preview[k]) || '—'}</dd>
              </>
            ))}
          </dl>
          <p class="warn">Merging cannot be undone.</p>
        </section>
      )}
      <Problem error={action.error} />
      <div class="actions">
        <button type="button" onClick={onClose}>Cancel</button>
        {!preview ? (
          <button type="button" class="primary" disabled={action.busy || !contacts || ids.length > MAX_MERGE || ids.length < 2} onClick={showPreview}>
            Preview merge
          </button>
        ) : (
          <button type="button" class="danger" disabled={action.busy} onClick={confirm}>
            Merge {ids.length} contacts
          </button>
        )}
      </div>
    </Dialog>
  );
}
