import { useState } from 'preact/hooks';
import { anonymous } from './api';
import type { Session } from './api-types';
import { AuthForm } from './auth-form';
import { Field } from './forms';
import { Link, navigate } from './router';
import { saveSession } from './session';

export function SignupPage() {
  const [name, setName] = useState('');
  return (
    <AuthForm
      title="Create an account"
      submitLabel="Create account"
      busyLabel="Creating…"
      password={{ autocomplete: 'new-password', minLength: 10, hint: 'At least 10 characters.' }}
      fieldsBefore={(failure) => (
        <Field
          label="Name (optional)"
          name="name"
          autocomplete="name"
          value={name}
          onValue={setName}
          failure={failure}
        />
      )}
      send={async (credentials) => {
        const body = { ...credentials, ...(name.trim() ? { name } : {}) };
        const res = await anonymous.send<{ data: Session }>('POST', '/auth/signup', body);
        saveSession({ token: res.data.token, expires_at: res.data.expires_at });
        navigate('/sites', { replace: true });
      }}
    >
      <p class="muted">
        Already have an account? <Link href="/login">Sign in</Link>
      </p>
    </AuthForm>
  );
}
