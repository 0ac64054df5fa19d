import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import { ApiFailure } from './api';

export interface FieldProps {
  label: string;
  name?: string;
  /** The API's `details` key of this field, for its validation messages; default `name`. */
  field?: string;
  failure?: ApiFailure | null;
  hint?: ComponentChildren;
  type?: 'text' | 'email' | 'password' | 'url' | 'number';
  value: string;
  onValue(value: string): void;
  placeholder?: string;
  autocomplete?: string;
  required?: boolean;
  min?: number;
  minLength?: number;
}

/** The messages the API gave for one field (422 `details`), joined for display. */
export function fieldErrors(
  failure: ApiFailure | null | undefined,
  field: string | undefined,
): string | null {
  if (!failure || !field) return null;
  const messages = Object.entries(failure.details)
    .filter(([key]) => key === field || key.startsWith(`${field}.`))
    .flatMap(([, list]) => list);
  return messages.length ? messages.join('; ') : null;
}

/** A labelled input; its API error and hint are tied to it for screen readers. */
export function Field({ label, field, failure, hint, type = 'text', onValue, ...input }: FieldProps) {
  const id = useId();
  const error = fieldErrors(failure, field ?? input.name);
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        // Preact 11 types each input type with the roles it allows; a type chosen by the caller
        // cannot be narrowed to one of them, and no role is ever set here.
        type={type as 'text'}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onInput={(e) => onValue(e.currentTarget.value)}
        {...input}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

interface SelectProps {
  label: string;
  name?: string;
  value: string;
  onValue(value: string): void;
  options: ReadonlyArray<{ value: string; label: string }>;
}

export function SelectField({ label, options, onValue, ...select }: SelectProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} onChange={(e) => onValue(e.currentTarget.value)} {...select}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The message of a failed request, announced when it appears. */
export function ErrorMessage({ error }: { error: Error | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

/**
 * An action of the page (delete, roll, toggle): runs once at a time and keeps its failure for the
 * fields and the message.
 */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const run = async (...args: A) => {
    if (busy) return;
    setBusy(true);
    setFailure(null);
    try {
      await action(...args);
    } catch (err) {
      setFailure(err instanceof ApiFailure ? err : new ApiFailure(0, 'error', String(err)));
    } finally {
      setBusy(false);
    }
  };
  return { busy, failure, run };
}

/** A form's submission: the same, without the page load. */
export function useSubmit(action: () => Promise<unknown>) {
  const { busy, failure, run } = useAction(action);
  const submit = (e?: Event) => {
    e?.preventDefault();
    return run();
  };
  return { busy, failure, submit };
}

export type Submission = ReturnType<typeof useSubmit>;
