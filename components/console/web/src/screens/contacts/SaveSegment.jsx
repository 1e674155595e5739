import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { Dialog, Problem, useAction } from '../../ui.jsx';

/** Saves the applied filter as a segment. */
export function SaveSegment({ filter, onClose, onSaved }) {
  const [name, setName] = useState('');
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const saved = await api.post('/api/segments', { name, filter });
      onClose();
      onSaved(saved);
    });
  };
  return (
    <Dialog title="Save as segment" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <label for="new-segment-name">Segment name</label>
        <input id="new-segment-name" required value={name} onInput={(e) => setName(e.target.value)} />
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy}>Save segment</button>
        </div>
      </form>
    </Dialog>
  );
}
