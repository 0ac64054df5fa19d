import { useState } from 'preact/hooks';
import type { ApiKey } from './api-types';
import { SecretOnce } from './copy-button';
import { ErrorMessage, Field, useAction, useSubmit } from './forms';
import { formatDateTime } from './format';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

const status = (key: ApiKey) =>
  key.revoked_at
    ? 'Revoked'
    : key.expires_at && Date.parse(key.expires_at) <= Date.now()
      ? 'Expired'
      : key.last_used_at
        ? `Last used ${formatDateTime(key.last_used_at)}`
        : 'Never used';

export function ApiKeysSettings({ client, base }: SettingsProps) {
  const keys = useList<ApiKey>(client, `${base}/api-keys`);
  const [secret, setSecret] = useState('');
  const [name, setName] = useState('');
  const action = useAction(async (key: ApiKey, change: 'roll' | 'revoke') => {
    if (change === 'roll') {
      const res = await client.send<{ data: { token: string } }>('POST', `${base}/api-keys/${key.id}/roll`);
      setSecret(res.data.token);
    } else {
      await client.send('DELETE', `${base}/api-keys/${key.id}`);
    }
    keys.reload();
  });
  const { busy, failure, submit } = useSubmit(async () => {
    const res = await client.send<{ data: { token: string } }>('POST', `${base}/api-keys`, { name });
    setSecret(res.data.token);
    setName('');
    keys.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">API keys</h2>
        <p>
          A site API key reads this site's statistics (<code>stats:read</code>) and nothing else. Send it as{' '}
          <code>Authorization: Bearer tmk_…</code>.
        </p>
        {secret && <SecretOnce what="API key" secret={secret} />}
        <ErrorMessage error={keys.error ?? action.failure} />
        {keys.data?.length === 0 && <p class="empty">No API keys yet.</p>}
        {!!keys.data?.length && (
          <table class="list-table">
            <caption class="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td>
                    <code>{k.preview}</code>
                  </td>
                  <td>{status(k)}</td>
                  <td class="actions">
                    {!k.revoked_at && (
                      <>
                        <button
                          type="button"
                          class="link-button"
                          onClick={() =>
                            confirm(`Roll ${k.name}? The current key stops working at once.`) &&
                            action.run(k, 'roll')
                          }
                        >
                          Roll<span class="sr-only"> key {k.name}</span>
                        </button>
                        <button
                          type="button"
                          class="link-button danger"
                          onClick={() => confirm(`Revoke ${k.name}?`) && action.run(k, 'revoke')}
                        >
                          Revoke<span class="sr-only"> key {k.name}</span>
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby="key-form-title">
        <h2 id="key-form-title">Create an API key</h2>
        <Field label="Name" name="name" value={name} onValue={setName} failure={failure} />
        <ErrorMessage error={failure} />
        <div>
          <button class="button" type="submit" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
    </>
  );
}
