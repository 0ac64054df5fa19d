import type { ComponentChildren, VNode } from 'preact';
import { ErrorMessage, type Submission } from './forms';
import type { SettingsProps } from './settings-page';

/** A settings section's form that adds an item to its list, which then reads the list again. */
export type AddFormProps = Pick<SettingsProps, 'client' | 'base'> & { onCreated(): void };

type Column = string | { label: string; num: true };

/**
 * The items of a settings section, one row each, with a last column for the row's buttons. Nothing
 * while the list loads, so "No … yet." never flashes before the first answer.
 */
export function ListTable<T>({
  items,
  empty,
  caption,
  columns,
  row,
}: {
  items: T[] | undefined;
  empty?: string;
  caption: string;
  columns: Column[];
  row(item: T): VNode;
}) {
  if (!items) return null;
  if (!items.length) return empty ? <p class="empty">{empty}</p> : null;
  return (
    <table class="list-table">
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => {
            const { label, num } = typeof column === 'string' ? { label: column, num: false } : column;
            return (
              <th key={label} scope="col" class={num ? 'num' : undefined}>
                {label}
              </th>
            );
          })}
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>{items.map(row)}</tbody>
    </table>
  );
}

/**
 * A button of a table row. Every row has the same buttons, so `item` names the row for screen
 * readers; a `question` must be confirmed first.
 */
export function RowAction({
  label,
  item,
  question,
  danger,
  onClick,
}: {
  label: ComponentChildren;
  item?: string;
  question?: string;
  danger?: boolean;
  onClick(): void;
}) {
  return (
    <button
      type="button"
      class={danger ? 'link-button danger' : 'link-button'}
      onClick={() => (!question || confirm(question)) && onClick()}
    >
      {label}
      {item && <span class="sr-only"> {item}</span>}
    </button>
  );
}

/** The card form under a list that adds to it; `form` is its `useSubmit`. */
export function AddFormCard({
  titleId,
  title,
  form: { busy, failure, submit },
  submitLabel,
  children,
}: {
  titleId: string;
  title: string;
  form: Submission;
  submitLabel: string;
  children: ComponentChildren;
}) {
  return (
    <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {children}
      <ErrorMessage error={failure} />
      <div>
        <button class="button" type="submit" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
