// The import wizard (SPEC §4, §8–§9): a file of up to 1M rows is read in the browser and
// sent in chunks of whole lines (≤ 10 MB each, the header in chunk 1 only) to one import
// job; each chunk is retried on a network failure (re-sending a chunk is harmless), and
// the job's counts drive the progress bar. Nothing is decoded here: the bytes go as they
// are, and the job detects encoding and delimiter.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { IMPORT_POLICIES, imports } from './contract.js';
import { Problem, Progress, useAction } from '../ui.jsx';
import { announceChange } from './Bulk.jsx';

/** The largest chunk sent: under Fermyon Cloud's 10 MB body limit, with room to spare. */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
const MIN_CHUNK_BYTES = 64 * 1024;
/** The first chunk: ~4,000 typical rows, a few seconds on a slow server. */
const FIRST_CHUNK_BYTES = 1024 * 1024;
/** What one chunk request should take: long enough to amortize a request, far under the
 * 30 s a platform gives a request, and short enough that the progress bar moves. */
const CHUNK_SECONDS = 2;
const PREVIEW_BYTES = 64 * 1024;
const RETRIES = 3;
const SKIP = '';

/** The next chunk's size from the last one's: scaled toward `CHUNK_SECONDS` (at most ×2
 * or ÷2 a step, so one slow request does not swing it), within [MIN, MAX]. */
export function nextChunkBytes(bytes, seconds) {
  const scale = Math.min(2, Math.max(0.5, CHUNK_SECONDS / Math.max(seconds, 0.001)));
  return Math.round(Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, bytes * scale)));
}

/** The end (exclusive) of the last whole line in `blob` within [start, start + size); a
 * line longer than `size` is taken whole when it fits in `MAX_CHUNK_BYTES`. */
async function lineEnd(blob, start, size) {
  const end = Math.min(blob.size, start + size);
  if (end === blob.size) return end;
  const bytes = new Uint8Array(await blob.slice(start, end).arrayBuffer());
  const lastNewline = bytes.lastIndexOf(0x0a);
  if (lastNewline >= 0) return start + lastNewline + 1;
  if (size < MAX_CHUNK_BYTES) return lineEnd(blob, start, MAX_CHUNK_BYTES);
  throw new Error(`a line longer than ${MAX_CHUNK_BYTES} bytes starts at byte ${start}`);
}

/** Sends the file chunk by chunk, each sized from the time the previous one took;
 * `onChunk(sentBytes, job)` after each. */
async function sendChunks(file, jobId, onChunk) {
  let job;
  let size = FIRST_CHUNK_BYTES;
  for (let start = 0, seq = 1; start < file.size; seq += 1) {
    const end = await lineEnd(file, start, size);
    const chunk = file.slice(start, end);
    const began = performance.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        job = await imports.putChunk(jobId, seq, chunk);
        break;
      } catch (e) {
        const transient = e.status === 0 || e.status >= 500;
        if (!transient || attempt >= RETRIES) throw e;
      }
    }
    size = nextChunkBytes(end - start, (performance.now() - began) / 1000);
    start = end;
    onChunk(end, job);
  }
  return job;
}

export function ImportWizard({ session }) {
  const [file, setFile] = useState(null);
  const [preview, setPreview] = useState(null);
  const [mapping, setMapping] = useState({});
  const [policies, setPolicies] = useState({});
  const [tags, setTags] = useState('');
  const [region, setRegion] = useState('');
  const [fields, setFields] = useState([]);
  const [sent, setSent] = useState(0);
  const [job, setJob] = useState(null);
  const [finishing, setFinishing] = useState(false);
  const [done, setDone] = useState(false);
  const action = useAction();

  if (!session.can('POST', '/api/imports/preview')) {
    return <p>Importing contacts is not available to your role on this app.</p>;
  }

  const choose = (e) => {
    const f = e.target.files[0];
    setFile(f);
    setPreview(null);
    setJob(null);
    setDone(false);
    if (!f) return;
    action.run(async () => {
      setFields((await api.get('/api/fields')).items.filter((x) => x.importable));
      const head = f.slice(0, await lineEnd(f, 0, PREVIEW_BYTES));
      const p = await imports.preview(head);
      setPreview(p);
      setMapping(Object.fromEntries(p.header.map((col) => [col, p.mapping[col] || SKIP])));
    });
  };

  const start = () =>
    action.run(async () => {
      const chosen = Object.fromEntries(Object.entries(mapping).filter(([, field]) => field !== SKIP));
      const fieldPolicies = Object.fromEntries(Object.values(chosen).map((field) => [field, policies[field] || 'update_blank_only']));
      const opened = await imports.create({
        mapping: chosen,
        policies: fieldPolicies,
        tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
        default_region: region.trim() || undefined,
      });
      setJob(opened);
      await sendChunks(file, opened.id, (bytes, j) => {
        setSent(bytes);
        if (j && j.counts) setJob(j);
      });
      // After a large import, finish merges the search index: a few seconds at 1M rows.
      setFinishing(true);
      try {
        setJob(await imports.finish(opened.id));
      } finally {
        setFinishing(false);
      }
      setDone(true);
      announceChange();
    });

  const downloadErrors = () =>
    action.run(async () => {
      const blob = await imports.errors(job.id);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `import-${job.id}-errors.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });

  const counts = job?.counts;
  return (
    <div class="import">
      <h1>Import contacts</h1>
      <section class="card" aria-labelledby="i-file">
        <h2 id="i-file">1. Choose a CSV file</h2>
        <label for="import-file">CSV file (UTF-8 or Latin-1, up to 1,000,000 rows)</label>
        <input id="import-file" type="file" accept=".csv,text/csv" onChange={choose} disabled={Boolean(job && !done)} />
        {file && (
          <p class="muted">
            {file.name}: {(file.size / 1024 / 1024).toFixed(1)} MB, sent in chunks of up to {MAX_CHUNK_BYTES / 1024 / 1024} MB
          </p>
        )}
      </section>
      {preview && (
        <section class="card" aria-labelledby="i-map">
          <h2 id="i-map">2. Map the columns</h2>
          <p>
            Encoding <strong>{preview.encoding}</strong>, delimiter <strong>{JSON.stringify(preview.delimiter)}</strong>
            {preview.rowCount !== null && <>, {preview.rowCount} rows in the preview</>}.
          </p>
          <table class="simple">
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Sample</th>
                <th scope="col">Field</th>
                <th scope="col">When the contact has a value</th>
              </tr>
            </thead>
            <tbody>
              {preview.header.map((col, i) => {
                const field = mapping[col];
                return (
                  <tr>
                    <th scope="row">{col}</th>
                    <td class="muted">{preview.sample.slice(0, 3).map((row) => row[i]).filter(Boolean).join(' · ')}</td>
                    <td>
                      <select aria-label={`Column ${col}: field`} value={field} onChange={(e) => setMapping({ ...mapping, [col]: e.target.value })}>
                        <option value={SKIP}>Skip this column</option>
                        {fields.map((f) => (
                          <option value={f.key}>
                            {f.label}
                            {f.system ? '' : ' (custom field)'}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      {field !== SKIP && (
                        <select aria-label={`Column ${col}: policy`} value={policies[field] || 'update_blank_only'} onChange={(e) => setPolicies({ ...policies, [field]: e.target.value })}>
                          {IMPORT_POLICIES.map((p) => (
                            <option value={p}>{p.replace(/_/g, ' ')}</option>
                          ))}
                        </select>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div class="inline wrap">
            <label>
              Tags for every imported contact <input value={tags} placeholder="e.g. fair-2026, imported" onInput={(e) => setTags(e.target.value)} />
            </label>
            <label>
              Default phone region <input value={region} placeholder="US" size="4" onInput={(e) => setRegion(e.target.value)} />
            </label>
          </div>
          <div class="actions">
            <button type="button" class="primary" disabled={action.busy || Boolean(job)} onClick={start}>
              Import
            </button>
          </div>
        </section>
      )}
      {job && (
        <section class="card" aria-labelledby="i-progress">
          <h2 id="i-progress">3. {done ? 'Result' : 'Importing'}</h2>
          <Progress label="Sent" value={sent} max={file.size} />
          {finishing && (
            <p class="muted" role="status">
              Every row is in. Finishing: tidying the search index, a few seconds for a large file.
            </p>
          )}
          {counts && (
            <dl class="counts" aria-live="polite">
              <dt>Processed</dt>
              <dd>{(job.processed ?? 0).toLocaleString()}</dd>
              <dt>Created</dt>
              <dd>{counts.created.toLocaleString()}</dd>
              <dt>Updated</dt>
              <dd>{counts.updated.toLocaleString()}</dd>
              <dt>Skipped</dt>
              <dd>{counts.skipped.toLocaleString()}</dd>
              <dt>Failed</dt>
              <dd>{counts.failed.toLocaleString()}</dd>
            </dl>
          )}
          {done && counts?.failed > 0 && (
            <button type="button" onClick={downloadErrors}>
              Download errors.csv
            </button>
          )}
        </section>
      )}
      <Problem error={action.error} />
    </div>
  );
}
