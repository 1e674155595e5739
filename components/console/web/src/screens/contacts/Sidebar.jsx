import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../../api.js';
import { Dialog, Problem, useAction } from '../../ui.jsx';

/** Segments with their counts: All, Blocked, then the saved ones (rename, delete). */
export function Sidebar({ segments, current, onSelect, onChanged, session }) {
  const [renaming, setRenaming] = useState(null);
  const [deleting, setDeleting] = useState(null);
  // User Timing: the counts are on screen (tests/browser/measure.mjs).
  useEffect(() => {
    if (segments.length) performance.mark('contacts:segments');
  }, [segments]);
  return (
    <nav class="sidebar" aria-label="Segments">
      <h2 class="sidebar-title">Segments</h2>
      <ul>
        {segments.map((s) => (
          <li class={String(s.id) === String(current) ? 'active' : ''}>
            <button
              type="button"
              class="segment"
              aria-current={String(s.id) === String(current) ? 'true' : undefined}
              onClick={() => onSelect(String(s.id))}
            >
              <span>{s.name}</span>
              <span class="count">{s.count?.toLocaleString() ?? '…'}</span>
            </button>
            {!s.system && (
              <span class="segment-actions">
                {session.can('PATCH', '/api/segments/{id}') && (
                  <button type="button" class="icon" aria-label={`Rename segment ${s.name}`} onClick={() => setRenaming(s)}>
                    ✎
                  </button>
                )}
                {session.can('DELETE', '/api/segments/{id}') && (
                  <button type="button" class="icon" aria-label={`Delete segment ${s.name}`} onClick={() => setDeleting(s)}>
                    ×
                  </button>
                )}
              </span>
            )}
          </li>
        ))}
      </ul>
      {renaming && <RenameSegment segment={renaming} onClose={() => setRenaming(null)} onDone={onChanged} />}
      {deleting && (
        <DeleteSegment
          segment={deleting}
          onClose={() => setDeleting(null)}
          onDone={() => {
            if (String(deleting.id) === String(current)) onSelect('all');
            onChanged();
          }}
        />
      )}
    </nav>
  );
}

function RenameSegment({ segment, onClose, onDone }) {
  const [name, setName] = useState(segment.name);
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      await api.patch(`/api/segments/${enc(segment.id)}`, { name });
      onDone();
      onClose();
    });
  };
  return (
    <Dialog title="Rename segment" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <label for="segment-name">Name</label>
        <input id="segment-name" required value={name} onInput={(e) => setName(e.target.value)} />
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy}>Rename</button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteSegment({ segment, onClose, onDone }) {
  const action = useAction();
  const remove = () =>
    action.run(async () => {
      await api.del(`/api/segments/${enc(segment.id)}`);
      onDone();
      onClose();
    });
  return (
    <Dialog title="Delete segment" onClose={onClose}>
      <p>
        Delete the segment <strong>{segment.name}</strong>? Its contacts stay; only the saved filter goes.
      </p>
      <Problem error={action.error} />
      <div class="actions">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="danger" disabled={action.busy} onClick={remove}>Delete segment</button>
      </div>
    </Dialog>
  );
}
