// The contacts screen: segment sidebar, search, filter builder, the caller's table with
// sort, selection and cursor paging (one page in memory at a time), and the actions on
// the selection.
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { Problem } from '../ui.jsx';
import { Sidebar } from './contacts/Sidebar.jsx';
import { Table } from './contacts/Table.jsx';
import { Customize } from './contacts/Customize.jsx';
import { FilterBuilder, emptyFilter, hasConditions } from './contacts/FilterBuilder.jsx';
import { NewContact } from './contacts/NewContact.jsx';
import { SaveSegment } from './contacts/SaveSegment.jsx';
import { SelectionActions } from './contacts/SelectionActions.jsx';

const PAGE_SIZE = 50;
/** Typing pauses this long before a search is sent (one request per pause, not per key). */
const SEARCH_DEBOUNCE_MS = 120;

/** Fetches one page of whatever the screen shows: a search, a filter, or a segment. */
async function fetchPage({ segment, q, filter, sort, columns, cursor }) {
  const fields = columns.join(',');
  if (q) {
    return api.get(`/api/search${qs({ q, segment, fields, limit: PAGE_SIZE, cursor })}`);
  }
  const sortKeys = sort ? [{ field: sort.field, dir: sort.dir }] : undefined;
  if (filter) {
    return api.post('/api/query', { filter, segment, sort: sortKeys, limit: PAGE_SIZE, cursor, fields: columns });
  }
  const sortParam = sort ? `${sort.dir === 'desc' ? '-' : ''}${sort.field}` : undefined;
  return api.get(`/api/contacts${qs({ segment, fields, sort: sortParam, limit: PAGE_SIZE, cursor })}`);
}

export function Contacts({ session }) {
  const [fields, setFields] = useState(null);
  const [columns, setColumns] = useState(null);
  const [segments, setSegments] = useState([]);
  const [segment, setSegment] = useState('all');
  const [q, setQ] = useState('');
  const [typed, setTyped] = useState('');
  const [draft, setDraft] = useState(null); // the filter being edited, or null when closed
  const [filter, setFilter] = useState(null); // the filter applied
  const [sort, setSort] = useState(null);
  const [cursors, setCursors] = useState([null]); // the cursor of each page seen so far
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [dialog, setDialog] = useState(null);
  const [reload, setReload] = useState(0);
  // The request whose answer (page or error) is on screen: the table is busy while the
  // current request differs, from the very render that changed it.
  const [answered, setAnswered] = useState(null);

  const loadSegments = useCallback(() => api.get('/api/segments').then((r) => setSegments(r.items), setError), []);
  useEffect(() => {
    Promise.all([api.get('/api/fields'), api.get('/api/views/table')]).then(([f, v]) => {
      setFields(f.items);
      setColumns(v.columns);
    }, setError);
    loadSegments();
  }, []);

  // A new question starts at page 1 with nothing selected.
  const restart = () => {
    setCursors([null]);
    setSelected(new Set());
  };
  useEffect(restart, [segment, q, filter, sort]);

  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [typed]);

  const cursor = cursors[cursors.length - 1];
  const requestKey = JSON.stringify([segment, q, filter, sort, columns, cursor, reload]);
  useEffect(() => {
    if (!columns) return;
    let stale = false;
    setError(null);
    fetchPage({ segment, q, filter, sort, columns, cursor })
      .then(
        (p) => !stale && setPage(p),
        (e) => !stale && setError(e),
      )
      .finally(() => !stale && setAnswered(requestKey));
    return () => {
      stale = true;
    };
  }, [segment, q, filter, sort, columns, cursor, reload]);

  const refresh = () => {
    setReload((n) => n + 1);
    loadSegments();
  };
  const current = segments.find((s) => String(s.id) === String(segment));
  const total = filter ? page?.total : q ? null : current?.count;
  const fieldByKey = useMemo(() => Object.fromEntries((fields || []).map((f) => [f.key, f])), [fields]);

  if (!fields || !columns) return error ? <Problem error={error} /> : <p class="loading">Loading…</p>;

  const applyFilter = () => setFilter(draft && hasConditions(draft) ? draft : null);
  const filterError = error && error.field && error.field.startsWith('filter') ? error : null;

  return (
    <div class="contacts">
      <Sidebar segments={segments} current={segment} onSelect={setSegment} onChanged={loadSegments} session={session} />
      <section class="content" aria-labelledby="contacts-title">
        <div class="toolbar">
          <h1 id="contacts-title">
            {current?.name || 'Contacts'}
            {total !== null && total !== undefined && <span class="muted"> · {total.toLocaleString()}</span>}
          </h1>
          <label class="search">
            <span class="sr-only">Search contacts</span>
            <input type="search" placeholder="Search name, email, phone…" value={typed} onInput={(e) => setTyped(e.target.value)} />
          </label>
          <button type="button" aria-expanded={draft ? 'true' : 'false'} onClick={() => setDraft(draft ? null : filter || emptyFilter())}>
            Filter{filter ? ' (on)' : ''}
          </button>
          <button type="button" onClick={() => setDialog('customize')}>
            Customize table
          </button>
          {session.can('POST', '/api/contacts') && (
            <button type="button" class="primary" onClick={() => setDialog('new')}>
              New contact
            </button>
          )}
        </div>
        {draft && (
          <section class="filter-panel" aria-label="Filter builder">
            <FilterBuilder filter={draft} onChange={setDraft} fields={fields} error={filterError} />
            <div class="actions">
              <button type="button" class="primary" onClick={applyFilter}>
                Apply filter
              </button>
              <button
                type="button"
                onClick={() => {
                  setDraft(emptyFilter());
                  setFilter(null);
                }}
              >
                Clear
              </button>
              {filter && session.can('POST', '/api/segments') && (
                <button type="button" onClick={() => setDialog('save-segment')}>
                  Save as segment
                </button>
              )}
            </div>
          </section>
        )}
        <SelectionActions
          session={session}
          selected={[...selected]}
          segment={segment}
          filter={filter}
          fields={fields}
          onDone={() => {
            setSelected(new Set());
            refresh();
          }}
        />
        <Problem error={error} />
        {page && (
          <Table
            busy={answered !== requestKey}
            items={page.items}
            columns={columns}
            fieldByKey={fieldByKey}
            sort={q ? null : sort}
            onSort={q ? null : setSort}
            showMatch={Boolean(q)}
            selected={selected}
            onSelect={setSelected}
          />
        )}
        <div class="pager">
          <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            ← Previous
          </button>
          <span>Page {cursors.length}</span>
          <button type="button" disabled={!page?.next_cursor} onClick={() => setCursors([...cursors, page.next_cursor])}>
            Next →
          </button>
        </div>
      </section>
      {dialog === 'customize' && <Customize fields={fields} columns={columns} onClose={() => setDialog(null)} onSaved={setColumns} />}
      {dialog === 'new' && <NewContact onClose={() => setDialog(null)} />}
      {dialog === 'save-segment' && (
        <SaveSegment
          filter={filter}
          onClose={() => setDialog(null)}
          onSaved={(s) => {
            loadSegments();
            setSegment(String(s.id));
            setFilter(null);
            setDraft(null);
          }}
        />
      )}
    </div>
  );
}
