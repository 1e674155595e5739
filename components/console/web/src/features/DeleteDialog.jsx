// The delete dialog: the admin types the number of contacts to be deleted (SPEC §3). A
// selection is deleted one contact at a time (DELETE /api/contacts/{id}) unless the bulk API
// is there; a whole segment only through bulk `delete` with `confirm_count`.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { bulk } from './contract.js';
import { announceChange, runBulk } from './Bulk.jsx';
import { Dialog, Problem, useAction } from '../ui.jsx';

export function DeleteDialog({ target, session, onClose, onDeleted }) {
  const viaBulk = session.can('POST', '/api/bulk');
  const [count, setCount] = useState(target.ids ? target.ids.length : null);
  const [typed, setTyped] = useState('');
  const action = useAction();
  useEffect(() => {
    if (!target.ids) action.run(async () => setCount(await bulk.dryRun('delete', {}, target)));
  }, []);
  const matches = count !== null && typed.trim() === String(count);
  const remove = (e) => {
    e.preventDefault();
    action.run(async () => {
      if (viaBulk) {
        await runBulk('delete', {}, target, `Delete ${count.toLocaleString()} contacts`, count);
      } else {
        for (const id of target.ids) await api.del(`/api/contacts/${enc(id)}`);
        announceChange();
      }
      onClose();
      onDeleted?.();
    });
  };
  return (
    <Dialog title={`Delete contacts (${count ?? '…'})`} onClose={onClose}>
      <form class="stack" onSubmit={remove}>
        <p>
          This deletes <strong>{count?.toLocaleString() ?? '…'}</strong> contact{count === 1 ? '' : 's'} for good, with their tags and
          identities. It cannot be undone.
        </p>
        <label for="delete-count">Type the number of contacts to delete</label>
        <input id="delete-count" inputMode="numeric" autocomplete="off" value={typed} onInput={(e) => setTyped(e.target.value)} />
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="danger" disabled={!matches || action.busy}>Delete</button>
        </div>
      </form>
    </Dialog>
  );
}
