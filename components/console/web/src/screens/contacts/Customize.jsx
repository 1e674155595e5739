import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { Dialog, Problem, useAction } from '../../ui.jsx';

/**
 * Customize table (the manual's): fields not shown on one side, fields visible (in order) on
 * the other; saved per user with PUT /api/views/table.
 */
export function Customize({ fields, columns, onClose, onSaved }) {
  const [visible, setVisible] = useState(columns);
  const action = useAction();
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  const hidden = fields.filter((f) => f.key !== 'contact_id' && !visible.includes(f.key));
  const move = (i, delta) => {
    const next = [...visible];
    const [item] = next.splice(i, 1);
    next.splice(i + delta, 0, item);
    setVisible(next);
  };
  const save = () =>
    action.run(async () => {
      const saved = await api.put('/api/views/table', { columns: visible });
      onSaved(saved.columns);
      onClose();
    });
  return (
    <Dialog title="Customize table" onClose={onClose} wide>
      <div class="columns-editor">
        <section aria-labelledby="not-shown">
          <h3 id="not-shown">Fields not shown in table</h3>
          <ul class="field-list">
            {hidden.map((f) => (
              <li>
                <label>
                  <input type="checkbox" checked={false} onChange={() => setVisible([...visible, f.key])} /> {f.label}
                </label>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="visible">
          <h3 id="visible">Fields visible in table</h3>
          <ol class="field-list">
            {visible.map((key, i) => (
              <li>
                <label>
                  <input type="checkbox" checked onChange={() => setVisible(visible.filter((k) => k !== key))} />{' '}
                  {byKey[key]?.label || key}
                </label>
                <span class="reorder">
                  <button type="button" class="icon" aria-label={`Move ${byKey[key]?.label || key} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                    ↑
                  </button>
                  <button type="button" class="icon" aria-label={`Move ${byKey[key]?.label || key} down`} disabled={i === visible.length - 1} onClick={() => move(i, 1)}>
                    ↓
                  </button>
                </span>
              </li>
            ))}
          </ol>
        </section>
      </div>
      <Problem error={action.error} />
      <div class="actions">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="primary" disabled={action.busy} onClick={save}>Save table</button>
      </div>
    </Dialog>
  );
}
