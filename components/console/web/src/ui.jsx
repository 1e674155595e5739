// Small shared pieces: dialogs, problems, progress, field-typed inputs.
import { useEffect, useRef, useState } from 'preact/hooks';

/** A modal dialog (native <dialog>: focus moves in, Escape closes, the page is inert). */
export function Dialog({ title, onClose, children, wide }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const cancel = (e) => {
      e.preventDefault();
      onClose();
    };
    d.addEventListener('cancel', cancel);
    return () => d.removeEventListener('cancel', cancel);
  }, [onClose]);
  const id = `dlg-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog ref={ref} class={wide ? 'wide' : ''} aria-labelledby={id}>
      <header class="dialog-head">
        <h2 id={id}>{title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

/** An API problem, shown where it happened. */
export function Problem({ error }) {
  if (!error) return null;
  const p = error.problem || {};
  return (
    <div class="problem" role="alert">
      <strong>{p.title || 'Something went wrong'}</strong>
      {p.detail && <span> — {p.detail}</span>}
      {p.field && <span class="muted"> (field: {p.field})</span>}
    </div>
  );
}

export function Progress({ label, value, max }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return (
    <div class="progress-wrap">
      <div class="progress-label">
        {label}: {value.toLocaleString()} of {max.toLocaleString()} ({pct}%)
      </div>
      <div class="progress" role="progressbar" aria-label={label} aria-valuemin="0" aria-valuemax={max} aria-valuenow={value}>
        <div class="progress-bar" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** Runs an async action, tracking busy and error state for a form or button. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

const list = (v) => (Array.isArray(v) ? v.join(', ') : v ?? '');
const splitList = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** A value as the contact JSON holds it, shown as text. */
export function display(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * An input for one field, typed by the field's type (from GET /api/fields); `value` and
 * `onChange` carry the JSON value the API expects for that type.
 */
export function FieldInput({ field, value, onChange, id, label, invalid }) {
  const common = { id, 'aria-label': label, 'aria-invalid': invalid ? 'true' : undefined };
  switch (field.type) {
    case 'checkbox':
      return <input type="checkbox" {...common} checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />;
    case 'number':
      return (
        <input
          type="number"
          step="any"
          {...common}
          value={value ?? ''}
          onInput={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))}
        />
      );
    case 'date':
      return <input type="date" {...common} value={value ?? ''} onInput={(e) => onChange(e.target.value || null)} />;
    case 'datetime':
      return (
        <input
          type="datetime-local"
          {...common}
          value={value ? value.slice(0, 16) : ''}
          onInput={(e) => onChange(e.target.value ? new Date(e.target.value).toISOString() : null)}
        />
      );
    case 'single_select':
      return (
        <select {...common} value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
          <option value="">—</option>
          {(field.options || []).map((o) => (
            <option value={o}>{o}</option>
          ))}
        </select>
      );
    case 'multi_select':
      return (
        <select {...common} multiple value={value || []} onChange={(e) => onChange([...e.target.selectedOptions].map((o) => o.value))}>
          {(field.options || []).map((o) => (
            <option value={o}>{o}</option>
          ))}
        </select>
      );
    case 'long_text':
      return <textarea {...common} rows="3" value={value ?? ''} onInput={(e) => onChange(e.target.value || null)} />;
    case 'email_list':
    case 'phone_list':
    case 'tags':
      return <input type="text" {...common} value={list(value)} onInput={(e) => onChange(splitList(e.target.value))} />;
    default:
      return (
        <input
          type={field.type === 'email' ? 'email' : 'text'}
          {...common}
          value={value ?? ''}
          onInput={(e) => onChange(e.target.value === '' ? null : e.target.value)}
        />
      );
  }
}
