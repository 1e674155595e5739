// What can be done to the selection — or, with nothing selected, to every contact of the
// current segment (the manual's rule). Only actions the caller's role may take and the app
// serves are offered.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../../api.js';
import { Problem, useAction } from '../../ui.jsx';
import { BulkDialog, announceChange, onChange } from '../../features/Bulk.jsx';
import { DeleteDialog } from '../../features/DeleteDialog.jsx';
import { MAX_MERGE, MergeDialog } from '../../features/MergeDialog.jsx';

export function SelectionActions({ session, selected, segment, filter, fields, onDone }) {
  const [dialog, setDialog] = useState(null);
  const action = useAction();
  useEffect(() => onChange(onDone), [onDone]);
  const bulkOk = session.can('POST', '/api/bulk');
  // With no selection the target is the segment, or the filter when one is applied on All
  // (a bulk target is a segment or a filter, not both).
  const whole = filter ? (segment === 'all' ? { filter } : null) : { segment };
  const target = selected.length ? { ids: selected } : whole;
  const inBlocked = segment === 'blocked';
  const canBlock = session.can('POST', '/api/blocks') && selected.length > 0;
  const canDelete = selected.length ? session.can('DELETE', '/api/contacts/{id}') : bulkOk && whole;

  const block = () =>
    action.run(async () => {
      await api.post('/api/blocks', { ids: selected });
      announceChange();
    });
  const unblock = () =>
    action.run(async () => {
      for (const id of selected) await api.del(`/api/blocks/${enc(id)}`);
      announceChange();
    });

  return (
    <div class="selection-bar" role="toolbar" aria-label="Actions on contacts">
      <span class="muted">{selected.length ? `${selected.length} selected` : 'No selection: actions apply to the whole segment'}</span>
      {bulkOk && target && (
        <button type="button" onClick={() => setDialog('bulk')}>
          Bulk update…
        </button>
      )}
      {canBlock && !inBlocked && (
        <button type="button" disabled={action.busy} onClick={block}>
          Block
        </button>
      )}
      {canBlock && inBlocked && (
        <button type="button" disabled={action.busy} onClick={unblock}>
          Unblock
        </button>
      )}
      {session.can('POST', '/api/merge') && selected.length >= 2 && (
        <button type="button" disabled={selected.length > MAX_MERGE} onClick={() => setDialog('merge')}>
          Merge…
        </button>
      )}
      {canDelete && (
        <button type="button" class="danger" onClick={() => setDialog('delete')}>
          Delete…
        </button>
      )}
      <Problem error={action.error} />
      {dialog === 'bulk' && <BulkDialog target={target} fields={fields} onClose={() => setDialog(null)} />}
      {dialog === 'merge' && <MergeDialog ids={selected} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && <DeleteDialog target={target} session={session} onClose={() => setDialog(null)} />}
    </div>
  );
}
