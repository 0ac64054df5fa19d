import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { ApiFailure } from './api';
import { ErrorMessage, Field, type FieldProps, useSubmit } from './forms';
import { Shell } from './shell';

export interface Credentials {
  email: string;
  password: string;
}

/**
 * The card of the sign-in and sign-up pages: an email and a password, sent by `send`. Fields the
 * page asks for first come from `fieldsBefore`, which gets the failure to show their API errors.
 */
export function AuthForm({
  title,
  submitLabel,
  busyLabel,
  password: passwordField,
  fieldsBefore,
  send,
  children,
}: {
  title: string;
  submitLabel: string;
  busyLabel: string;
  password: Pick<FieldProps, 'autocomplete' | 'minLength' | 'hint'>;
  fieldsBefore?(failure: ApiFailure | null): ComponentChildren;
  send(credentials: Credentials): Promise<unknown>;
  /** Under the form: the link to the other page. */
  children: ComponentChildren;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, failure, submit } = useSubmit(() => send({ email, password }));
  return (
    <Shell>
      <div class="auth-card">
        <h1>{title}</h1>
        <form onSubmit={submit} noValidate>
          {fieldsBefore?.(failure)}
          <Field
            label="Email"
            name="email"
            type="email"
            autocomplete="email"
            required
            value={email}
            onValue={setEmail}
            failure={failure}
          />
          <Field
            label="Password"
            name="password"
            type="password"
            required
            {...passwordField}
            value={password}
            onValue={setPassword}
            failure={failure}
          />
          <ErrorMessage error={failure} />
          <button class="button" type="submit" disabled={busy}>
            {busy ? busyLabel : submitLabel}
          </button>
        </form>
        {children}
      </div>
    </Shell>
  );
}
