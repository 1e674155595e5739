import { useEffect } from 'preact/hooks';
import { href } from '../../router.js';
import { display } from '../../ui.jsx';

/** The contacts table: the caller's columns, sortable headers, a checkbox per row. */
export function Table({ busy, items, columns, fieldByKey, sort, onSort, showMatch, selected, onSelect }) {
  // User Timing: when a page of rows is on screen (effects run after the browser paints),
  // for measuring the console as a user sees it (tests/browser/measure.mjs).
  useEffect(() => {
    if (!busy) performance.mark('contacts:rows');
  }, [busy, items]);
  const allSelected = items.length > 0 && items.every((c) => selected.has(c.contact_id));
  const toggleAll = () => onSelect(allSelected ? new Set() : new Set(items.map((c) => c.contact_id)));
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    onSelect(next);
  };
  const nameOf = (c) => c.display_name || c.email || c.contact_id;
  if (items.length === 0) {
    return (
      <p class="empty" aria-busy={busy ? 'true' : 'false'}>
        No contacts here.
      </p>
    );
  }
  return (
    <div class="table-wrap" aria-busy={busy ? 'true' : 'false'}>
      <table class="contacts-table">
        <thead>
          <tr>
            <th scope="col" class="check">
              <input type="checkbox" aria-label="Select all on this page" checked={allSelected} onChange={toggleAll} />
            </th>
            <th scope="col">Contact</th>
            {columns
              .filter((key) => key !== 'display_name')
              .map((key) => (
                <ColumnHeader field={fieldByKey[key] || { key, label: key }} sort={sort} onSort={onSort} />
              ))}
            {showMatch && <th scope="col">Match</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr class={selected.has(c.contact_id) ? 'selected' : ''}>
              <td class="check">
                <input
                  type="checkbox"
                  aria-label={`Select ${nameOf(c)}`}
                  checked={selected.has(c.contact_id)}
                  onChange={() => toggle(c.contact_id)}
                />
              </td>
              <th scope="row">
                <a href={href('contact', c.contact_id)}>{nameOf(c)}</a>
              </th>
              {columns
                .filter((key) => key !== 'display_name')
                .map((key) => (
                  <td>{display(key.startsWith('custom.') ? c.custom?.[key.slice(7)] ?? c[key] : c[key])}</td>
                ))}
              {showMatch && (
                <td>
                  <span class="badge">{c.match}</span>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ColumnHeader({ field, sort, onSort }) {
  const active = sort && sort.field === field.key;
  const ariaSort = active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined;
  if (!field.sortable || !onSort) {
    return <th scope="col">{field.label}</th>;
  }
  const next = active && sort.dir === 'asc' ? 'desc' : 'asc';
  return (
    <th scope="col" aria-sort={ariaSort}>
      <button type="button" class="sort" onClick={() => onSort({ field: field.key, dir: next })}>
        {field.label}
        <span aria-hidden="true">{active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}
