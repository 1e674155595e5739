// Bulk actions (SPEC §3, §9): on the selection, or with none on every contact of the
// current segment; the dry-run count first; a long run is a job the console advances with
// POST /api/bulk/jobs/{id}/continue (Spin does no work between requests), shown as a
// progress bar. The running job's id is kept in localStorage, so a reload picks it up.
import { useEffect, useState } from 'preact/hooks';
import { BULK_ACTIONS, bulk } from './contract.js';
import { href } from '../router.js';
import { Dialog, FieldInput, Problem, Progress, useAction } from '../ui.jsx';

const JOB_KEY = 'contacts.bulk-job';
const CHANGED = 'contacts:changed';

/** Tells the contacts screen that contacts changed (it reloads its page and counts). */
export const announceChange = () => dispatchEvent(new Event(CHANGED));
export const onChange = (listener) => {
  addEventListener(CHANGED, listener);
  return () => removeEventListener(CHANGED, listener);
};

function rememberJob(job, label) {
  localStorage.setItem(JOB_KEY, JSON.stringify({ id: job.id, label }));
  dispatchEvent(new Event('contacts:job'));
}

/** The running bulk job, if any: driven to its end from whatever screen is open. */
export function ResumeJobs({ session }) {
  const [stored, setStored] = useState(() => JSON.parse(localStorage.getItem(JOB_KEY) || 'null'));
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const pick = () => setStored(JSON.parse(localStorage.getItem(JOB_KEY) || 'null'));
    addEventListener('contacts:job', pick);
    return () => removeEventListener('contacts:job', pick);
  }, []);
  useEffect(() => {
    setError(null);
    if (!stored || !session.can('POST', '/api/bulk/jobs/{id}/continue')) return;
    let stopped = false;
    (async () => {
      try {
        let current = await bulk.get(stored.id);
        setJob(current);
        while (!stopped && current.state !== 'done') {
          current = await bulk.advance(stored.id);
          setJob(current);
        }
        if (!stopped) announceChange();
      } catch (e) {
        if (!stopped) setError(e);
      }
    })();
    return () => {
      stopped = true;
    };
  }, [stored]);
  if (!stored) return null;
  const dismiss = () => {
    localStorage.removeItem(JOB_KEY);
    setStored(null);
    setJob(null);
    setError(null);
  };
  // Only the stored job's own figures: the job of the banner before never stands for it,
  // not even for the frame before this job's first answer arrives.
  const current = job && job.id === stored.id ? job : null;
  const done = current && current.state === 'done';
  return (
    <section class="job-banner" aria-live="polite" aria-label="Bulk job">
      {current && <Progress label={stored.label} value={current.processed} max={current.total} />}
      {done && <span class="ok">Done: {current.processed.toLocaleString()} contacts.</span>}
      {done && current.conflicts?.length > 0 && <Conflicts pairs={current.conflicts} />}
      <Problem error={error} />
      {(done || error) && (
        <button type="button" onClick={dismiss}>
          Dismiss
        </button>
      )}
    </section>
  );
}

/** Re-checked phone numbers another contact already holds: each pair is one person's two
 * records, to merge (their primary phone kept its old key meanwhile). */
function Conflicts({ pairs }) {
  return (
    <details class="conflicts">
      <summary>
        {pairs.length >= 1000 ? 'The first 1,000' : pairs.length.toLocaleString()} contacts sharing a phone number with another
        contact: merge each pair, then re-check again
      </summary>
      <ul>
        {pairs.map((p) => (
          <li key={p.contact_id}>
            <a href={href('contact', p.contact_id)}>{p.contact_id}</a> and <a href={href('contact', p.holder)}>{p.holder}</a>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Runs an action as a job handed to ResumeJobs, which shows its progress bar to the end
 * (a small target is often done by the first slice: the bar then shows it finished). */
export async function runBulk(action, params, target, label, confirmCount) {
  const job = await bulk.start(action, params, target, confirmCount);
  if (job.id) rememberJob(job, label);
  else announceChange();
  return job;
}

const describeTarget = (target, count) =>
  target.ids ? `${target.ids.length} selected contact${target.ids.length === 1 ? '' : 's'}` : `every contact of this ${target.filter ? 'filter' : 'segment'} (${count ?? '…'})`;

export function BulkDialog({ target, fields, onClose }) {
  const [spec, setSpec] = useState(BULK_ACTIONS[0]);
  const [params, setParams] = useState({});
  const [count, setCount] = useState(null);
  const action = useAction();
  const writable = fields.filter((f) => f.writable && f.key !== 'contact_id');
  const stage = fields.find((f) => f.key === 'lead_stage');
  // The API checks an action's parameters even in a dry run, so the count is asked again
  // whenever they change (an action whose parameters are still empty shows why it can't run).
  const paramsKey = JSON.stringify(paramsFor(spec, params));
  useEffect(() => {
    setCount(null);
    action.run(async () => setCount(await bulk.dryRun(spec.action, paramsFor(spec, params), target)));
  }, [spec, paramsKey]);
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      await runBulk(spec.action, paramsFor(spec, params), target, `${spec.label}: ${describeTarget(target, count)}`);
      onClose();
    });
  };
  return (
    <Dialog title="Bulk update" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <p>
          Applies to <strong>{describeTarget(target, count)}</strong>.
        </p>
        <label for="bulk-action">Action</label>
        <select id="bulk-action" value={spec.action} onChange={(e) => { setSpec(BULK_ACTIONS.find((a) => a.action === e.target.value)); setParams({}); }}>
          {BULK_ACTIONS.map((a) => (
            <option value={a.action}>{a.label}</option>
          ))}
        </select>
        {spec.params.map(([key, label, kind]) => (
          <div class="form-row">
            <label for={`bulk-${key}`}>{label}</label>
            {kind === 'field' ? (
              <select id={`bulk-${key}`} required value={params.field || ''} onChange={(e) => setParams({ ...params, field: e.target.value })}>
                <option value="">Choose a field</option>
                {writable.map((f) => (
                  <option value={f.key}>{f.label}</option>
                ))}
              </select>
            ) : kind === 'stage' ? (
              <select id={`bulk-${key}`} required value={params.stage || ''} onChange={(e) => setParams({ ...params, stage: e.target.value })}>
                <option value="">Choose a stage</option>
                {(stage?.options || []).map((o) => (
                  <option value={o}>{o}</option>
                ))}
              </select>
            ) : kind === 'value' ? (
              <FieldInput
                id={`bulk-${key}`}
                field={writable.find((f) => f.key === params.field) || { type: 'text' }}
                value={params.value ?? null}
                onChange={(v) => setParams({ ...params, value: v })}
              />
            ) : (
              <input id={`bulk-${key}`} required value={params[key] || ''} onInput={(e) => setParams({ ...params, [key]: e.target.value })} />
            )}
          </div>
        ))}
        {count !== null && (
          <p class="count-note" role="status">
            Dry run: {count.toLocaleString()} contact{count === 1 ? '' : 's'} will change.
          </p>
        )}
        <Problem error={action.error} />
        <div class="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy || count === null}>
            Apply to {count?.toLocaleString() ?? '…'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** The API's params for an action, from the form's text values. */
function paramsFor(spec, values) {
  const out = {};
  for (const [key, , kind] of spec.params) {
    const v = values[key] ?? '';
    if (kind === 'list') out[key] = v.split(',').map((t) => t.trim()).filter(Boolean);
    else if (kind === 'value') out[key] = v === '' ? null : v; // already typed by FieldInput
    else out[key] = v;
  }
  return out;
}
