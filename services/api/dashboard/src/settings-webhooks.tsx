import { useState } from 'preact/hooks';
import { WEBHOOK_EVENTS, type Webhook } from './api-types';
import { SecretOnce } from './copy-button';
import { ErrorMessage, Field, fieldErrors, useAction, useSubmit } from './forms';
import { AddFormCard, ListTable, RowAction, type AddFormProps } from './settings-list';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

export function WebhooksSettings({ client, base }: SettingsProps) {
  const hooks = useList<Webhook>(client, `${base}/webhooks`);
  const [notice, setNotice] = useState('');
  const action = useAction(async (hook: Webhook, change: 'test' | 'toggle' | 'delete') => {
    setNotice('');
    if (change === 'test') {
      await client.send('POST', `${base}/webhooks/${hook.id}/test`);
      setNotice(`A test event is on its way to ${hook.url}.`);
      return;
    }
    if (change === 'delete') await client.send('DELETE', `${base}/webhooks/${hook.id}`);
    else await client.send('PUT', `${base}/webhooks/${hook.id}`, { is_enabled: !hook.is_enabled });
    hooks.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="webhooks-title">
        <h2 id="webhooks-title">Webhooks</h2>
        <p>Signed (Standard Webhooks) POSTs to your endpoint, retried until it answers 2xx.</p>
        <ErrorMessage error={hooks.error ?? action.failure} />
        <p role="status">{notice}</p>
        <ListTable
          items={hooks.data}
          empty="No webhooks yet."
          caption="Webhooks"
          columns={['Endpoint', 'Events']}
          row={(h) => (
            <tr key={h.id}>
              <th scope="row" class="break">
                {h.url}
                {!h.is_enabled && <span class="badge">{h.disabled_reason ? 'disabled' : 'paused'}</span>}
                {h.description && <span class="muted block">{h.description}</span>}
              </th>
              <td>{h.events.join(', ')}</td>
              <td class="actions">
                <RowAction label="Send test" onClick={() => action.run(h, 'test')} />
                <RowAction
                  label={h.is_enabled ? 'Pause' : 'Enable'}
                  onClick={() => action.run(h, 'toggle')}
                />
                <RowAction
                  label="Delete"
                  question={`Delete the webhook to ${h.url}?`}
                  danger
                  onClick={() => action.run(h, 'delete')}
                />
              </td>
            </tr>
          )}
        />
      </section>
      <WebhookForm client={client} base={base} onCreated={hooks.reload} />
    </>
  );
}

function WebhookForm({ client, base, onCreated }: AddFormProps) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<string[]>(['goal.completed']);
  const [secret, setSecret] = useState('');
  const form = useSubmit(async () => {
    const res = await client.send<{ data: { secret: string } }>('POST', `${base}/webhooks`, {
      url,
      events,
      ...(description.trim() ? { description } : {}),
    });
    setSecret(res.data.secret);
    setUrl('');
    setDescription('');
    onCreated();
  });
  const eventsError = fieldErrors(form.failure, 'events');
  return (
    <AddFormCard titleId="webhook-form-title" title="Add a webhook" form={form} submitLabel="Add webhook">
      {secret && <SecretOnce what="signing secret" secret={secret} />}
      <Field
        label="Endpoint URL"
        name="url"
        type="url"
        placeholder="https://example.com/hooks/tidemark"
        value={url}
        onValue={setUrl}
        failure={form.failure}
      />
      <fieldset class="checkboxes" aria-describedby={eventsError ? 'webhook-events-error' : undefined}>
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((type) => (
          <label key={type}>
            <input
              type="checkbox"
              checked={events.includes(type)}
              onChange={(e) =>
                setEvents(e.currentTarget.checked ? [...events, type] : events.filter((t) => t !== type))
              }
            />{' '}
            {type}
          </label>
        ))}
        {eventsError && (
          <p class="field-error" id="webhook-events-error">
            {eventsError}
          </p>
        )}
      </fieldset>
      <Field
        label="Description (optional)"
        name="description"
        value={description}
        onValue={setDescription}
        failure={form.failure}
      />
    </AddFormCard>
  );
}
