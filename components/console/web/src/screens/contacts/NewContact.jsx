import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { go } from '../../router.js';
import { Dialog, Problem, useAction } from '../../ui.jsx';

const FIELDS = [
  ['first_name', 'First name', 'text'],
  ['last_name', 'Last name', 'text'],
  ['email', 'Email', 'email'],
  ['phone', 'Phone', 'tel'],
  ['company', 'Company', 'text'],
];

/** A new contact: the API needs one of email, phone, Contact ID and says which is wrong. */
export function NewContact({ onClose }) {
  const [values, setValues] = useState({});
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ''));
      const created = await api.post('/api/contacts', body);
      onClose();
      go('contact', created.contact_id);
    });
  };
  const existing = action.error?.problem?.existing_contact_id;
  return (
    <Dialog title="New contact" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {FIELDS.map(([key, label, type]) => (
          <div class="form-row">
            <label for={`new-${key}`}>{label}</label>
            <input
              id={`new-${key}`}
              type={type}
              aria-invalid={action.error?.field === key ? 'true' : undefined}
              value={values[key] || ''}
              onInput={(e) => setValues({ ...values, [key]: e.target.value })}
            />
          </div>
        ))}
        <Problem error={action.error} />
        {existing && (
          <p>
            <a href={`#/contact/${encodeURIComponent(existing)}`} onClick={onClose}>
              Open the existing contact
            </a>
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy}>Create contact</button>
        </div>
      </form>
    </Dialog>
  );
}
