// The merge, bulk and import APIs as SPEC §8–§9 and the built components give them: every
// call and every reading of an answer's shape is here, so a change of the API is a change to
// this file only.
import { api, enc, request, token } from '../api.js';

export const bulk = {
  /** `{count}`: how many contacts the action would touch. */
  dryRun: async (action, params, target) =>
    (await api.post('/api/bulk', { action, params, target, dry_run: true })).count,
  /** The job: `{id, state, total, processed}`. */
  start: async (action, params, target, confirmCount) => {
    const body = { action, params, target };
    if (confirmCount !== undefined) body.confirm_count = confirmCount;
    return (await api.post('/api/bulk', body)).job;
  },
  get: async (id) => (await api.get(`/api/bulk/jobs/${enc(id)}`)).job,
  advance: async (id) => (await api.post(`/api/bulk/jobs/${enc(id)}/continue`, {})).job,
};

export const merge = {
  /** `[{contact_id, reasons}]` */
  duplicatesOf: async (id) => (await api.get(`/api/duplicates/${enc(id)}`)).items,
  /** The contact as the merge would leave it. */
  preview: async (primary, secondaries) => (await api.post('/api/merge', { primary, secondaries, dry_run: true })).contact,
  /** `{contact, merged}` */
  run: (primary, secondaries) => api.post('/api/merge', { primary, secondaries, dry_run: false }),
};

export const imports = {
  /** `{encoding, delimiter, header, mapping, sample, rowCount}` from the file's first bytes. */
  preview: async (blob) => {
    const r = (await request('POST', '/api/imports/preview', { body: blob, contentType: 'text/csv' })).data;
    return {
      encoding: r.encoding,
      delimiter: r.delimiter,
      header: r.header,
      mapping: r.suggested_mapping,
      sample: r.sample_rows,
      rowCount: r.row_count,
    };
  },
  /** Opens a job: `{id, state, processed, counts, next_seq}`. */
  create: ({ mapping, policies, tags, default_region }) =>
    api.post('/api/imports', { mapping, policies, tags, default_region }),
  /** Sends chunk `seq` (from 1): whole lines, the header in chunk 1 only. */
  putChunk: async (job, seq, blob) =>
    (await request('PUT', `/api/imports/${enc(job)}/chunks/${seq}`, { body: blob, contentType: 'text/csv' })).data,
  finish: (job) => api.post(`/api/imports/${enc(job)}/finish`, {}),
  get: (job) => api.get(`/api/imports/${enc(job)}`),
  /** errors.csv as a Blob (it needs the bearer token, so it cannot be a plain link). */
  errors: async (job) => {
    const res = await fetch(`/api/imports/${enc(job)}/errors.csv`, { headers: { authorization: `Bearer ${token()}` } });
    if (!res.ok) throw new Error(`errors.csv: HTTP ${res.status}`);
    return res.blob();
  },
};

export const IMPORT_POLICIES = ['update_blank_only', 'overwrite', 'append'];

export const BULK_ACTIONS = [
  { action: 'assign_owner', label: 'Assign owner', params: [['owner', 'Owner login', 'text']] },
  { action: 'add_tags', label: 'Add tags', params: [['tags', 'Tags (comma-separated)', 'list']] },
  { action: 'remove_tags', label: 'Remove tags', params: [['tags', 'Tags (comma-separated)', 'list']] },
  { action: 'set_field', label: 'Set a field', params: [['field', 'Field', 'field'], ['value', 'Value', 'value']] },
  { action: 'set_lead_stage', label: 'Set lead stage', params: [['stage', 'Lead stage', 'stage']] },
  { action: 'block', label: 'Block', params: [] },
  { action: 'unblock', label: 'Unblock', params: [] },
  { action: 'recheck_phones', label: 'Re-check phone numbers', params: [] },
];
