// The filter builder: AND/OR groups nested to depth 3 (SPEC §3), conditions whose operators
// come from the field's `operators` in GET /api/fields, values typed by the field's type.
// The tree here is exactly the API's filter JSON; a problem the API names by JSON path
// (`filter.all[1].value`) is shown at that condition.
import { FieldInput } from '../../ui.jsx';

const MAX_DEPTH = 3;
const NO_VALUE = new Set(['empty', 'not_empty', 'today', 'yesterday', 'this_week', 'this_month', 'last_month', 'is_true', 'is_false', 'no_tags', 'unassigned']);
const LIST_VALUE = new Set(['in', 'not_in', 'has_any', 'has_all', 'has_none']);

const OP_LABELS = {
  eq: 'is', neq: 'is not', contains: 'contains', not_contains: 'does not contain', starts_with: 'starts with',
  ends_with: 'ends with', empty: 'is empty', not_empty: 'is not empty', gt: '>', gte: '≥', lt: '<', lte: '≤',
  between: 'between', on: 'on', before: 'before', after: 'after', last_days: 'in the last N days', today: 'today',
  yesterday: 'yesterday', this_week: 'this week', this_month: 'this month', last_month: 'last month',
  is_true: 'is checked', is_false: 'is not checked', in: 'is any of', not_in: 'is none of', has_any: 'has any of',
  has_all: 'has all of', has_none: 'has none of', no_tags: 'has none at all', unassigned: 'is unassigned',
};

export const emptyFilter = () => ({ all: [] });
const kindOf = (group) => (group.any ? 'any' : 'all');
const itemsOf = (group) => group[kindOf(group)];
const isGroup = (item) => Boolean(item.all || item.any);

/** The default value an operator takes for a field. */
function initialValue(field, op) {
  if (NO_VALUE.has(op)) return undefined;
  if (LIST_VALUE.has(op)) return [];
  if (op === 'between') return [null, null];
  if (op === 'last_days') return 7;
  if (field.type === 'checkbox') return true;
  return '';
}

export function newCondition(fields) {
  const field = fields[0];
  const op = field.operators[0];
  return { field: field.key, op, value: initialValue(field, op) };
}

/** Whether a filter has at least one condition. */
export function hasConditions(group) {
  return itemsOf(group).some((item) => (isGroup(item) ? hasConditions(item) : true));
}

export function FilterBuilder({ filter, onChange, fields, error }) {
  const filterable = fields.filter((f) => f.filterable && f.operators);
  return (
    <Group
      group={filter}
      path="filter"
      depth={1}
      fields={filterable}
      errorPath={error?.field}
      onChange={onChange}
    />
  );
}

function Group({ group, path, depth, fields, errorPath, onChange, onRemove }) {
  const kind = kindOf(group);
  const items = itemsOf(group);
  const setItems = (next) => onChange({ [kind]: next });
  const setItem = (i, item) => setItems(items.map((x, j) => (j === i ? item : x)));
  const removeItem = (i) => setItems(items.filter((_, j) => j !== i));
  const label = depth === 1 ? 'Filter' : `Group at depth ${depth}`;
  return (
    <fieldset class={`group depth-${depth}`}>
      <legend>
        <label>
          <span class="sr-only">{label}: </span>Match
          <select value={kind} aria-label={`${label}: match all or any`} onChange={(e) => onChange({ [e.target.value]: items })}>
            <option value="all">all (AND)</option>
            <option value="any">any (OR)</option>
          </select>
          of these
        </label>
        {onRemove && (
          <button type="button" class="icon" aria-label={`Remove ${label.toLowerCase()}`} onClick={onRemove}>
            ×
          </button>
        )}
      </legend>
      {items.map((item, i) =>
        isGroup(item) ? (
          <Group
            group={item}
            path={`${path}.${kind}[${i}]`}
            depth={depth + 1}
            fields={fields}
            errorPath={errorPath}
            onChange={(g) => setItem(i, g)}
            onRemove={() => removeItem(i)}
          />
        ) : (
          <Condition
            condition={item}
            path={`${path}.${kind}[${i}]`}
            index={i}
            fields={fields}
            errorPath={errorPath}
            onChange={(c) => setItem(i, c)}
            onRemove={() => removeItem(i)}
          />
        ),
      )}
      <div class="group-actions">
        <button type="button" onClick={() => setItems([...items, newCondition(fields)])}>
          + Condition
        </button>
        {depth < MAX_DEPTH && (
          <button type="button" onClick={() => setItems([...items, { all: [newCondition(fields)] }])}>
            + Group
          </button>
        )}
      </div>
    </fieldset>
  );
}

function Condition({ condition, path, index, fields, errorPath, onChange, onRemove }) {
  const field = fields.find((f) => f.key === condition.field) || fields[0];
  const at = errorPath && (errorPath === path || errorPath.startsWith(`${path}.`) || errorPath.startsWith(`${path}[`));
  const name = `Condition ${index + 1}`;
  const setField = (key) => {
    const f = fields.find((x) => x.key === key);
    const op = f.operators.includes(condition.op) ? condition.op : f.operators[0];
    onChange({ field: key, op, value: initialValue(f, op) });
  };
  const setOp = (op) => onChange({ field: field.key, op, value: initialValue(field, op) });
  const setValue = (value) => onChange({ ...condition, value });
  return (
    <div class={`condition${at ? ' invalid' : ''}`}>
      <select aria-label={`${name}: field`} value={field.key} onChange={(e) => setField(e.target.value)}>
        {fields.map((f) => (
          <option value={f.key}>{f.label}</option>
        ))}
      </select>
      <select aria-label={`${name}: operator`} value={condition.op} onChange={(e) => setOp(e.target.value)}>
        {field.operators.map((op) => (
          <option value={op}>{OP_LABELS[op] || op}</option>
        ))}
      </select>
      <ValueInput field={field} condition={condition} name={name} invalid={at} onChange={setValue} />
      <button type="button" class="icon" aria-label={`Remove ${name.toLowerCase()}`} onClick={onRemove}>
        ×
      </button>
      {at && (
        <span class="field-error" role="alert">
          {errorPath}: see the message above
        </span>
      )}
    </div>
  );
}

function ValueInput({ field, condition, name, invalid, onChange }) {
  const { op, value } = condition;
  const label = `${name}: value`;
  if (NO_VALUE.has(op)) return null;
  if (op === 'last_days') {
    return <input type="number" min="1" aria-label={`${name}: days`} value={value} onInput={(e) => onChange(Number(e.target.value))} />;
  }
  if (op === 'between') {
    const [low, high] = value || [null, null];
    return (
      <span class="between">
        <FieldInput field={field} label={`${name}: from`} invalid={invalid} value={low} onChange={(v) => onChange([v, high])} />
        <span aria-hidden="true">and</span>
        <FieldInput field={field} label={`${name}: to`} invalid={invalid} value={high} onChange={(v) => onChange([low, v])} />
      </span>
    );
  }
  if (LIST_VALUE.has(op)) {
    if (field.options) {
      return <FieldInput field={{ ...field, type: 'multi_select' }} label={label} invalid={invalid} value={value} onChange={onChange} />;
    }
    return <FieldInput field={{ ...field, type: 'tags' }} label={`${label} (comma-separated)`} invalid={invalid} value={value} onChange={onChange} />;
  }
  const valueField = field.type === 'datetime' && op === 'on' ? { ...field, type: 'date' } : field;
  const textual = ['email_list', 'phone_list', 'tags', 'multi_select'].includes(field.type) ? { ...field, type: 'text' } : valueField;
  return <FieldInput field={textual} label={label} invalid={invalid} value={value} onChange={onChange} />;
}
