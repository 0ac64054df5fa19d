import { useState } from 'preact/hooks';
import type { ApiKey } from './api-types';
import { SecretOnce } from './copy-button';
import { ErrorMessage, Field, useAction, useSubmit } from './forms';
import { formatDateTime } from './format';
import { AddFormCard, ListTable, RowAction } from './settings-list';
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
  const form = useSubmit(async () => {
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
        <ListTable
          items={keys.data}
          empty="No API keys yet."
          caption="API keys"
          columns={['Name', 'Key', 'Status']}
          row={(k) => (
            <tr key={k.id}>
              <th scope="row">{k.name}</th>
              <td>
                <code>{k.preview}</code>
              </td>
              <td>{status(k)}</td>
              <td class="actions">
                {!k.revoked_at && (
                  <>
                    <RowAction
                      label="Roll"
                      item={`key ${k.name}`}
                      question={`Roll ${k.name}? The current key stops working at once.`}
                      onClick={() => action.run(k, 'roll')}
                    />
                    <RowAction
                      label="Revoke"
                      item={`key ${k.name}`}
                      question={`Revoke ${k.name}?`}
                      danger
                      onClick={() => action.run(k, 'revoke')}
                    />
                  </>
                )}
              </td>
            </tr>
          )}
        />
      </section>
      <AddFormCard titleId="key-form-title" title="Create an API key" form={form} submitLabel="Create key">
        <Field label="Name" name="name" value={name} onValue={setName} failure={form.failure} />
      </AddFormCard>
    </>
  );
}
