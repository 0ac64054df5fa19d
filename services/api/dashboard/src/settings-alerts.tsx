import { useState } from 'preact/hooks';
import type { Alert, AlertTrigger } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
import { formatDateTime } from './format';
import { AddFormCard, ListTable, RowAction, type AddFormProps } from './settings-list';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

const describeTrigger = (t: AlertTrigger) =>
  'goal_name' in t
    ? `Goal ${t.goal_name} completed`
    : `${t.metric} ${t.op === 'gt' ? 'above' : 'below'} ${t.value} in ${t.window_minutes} min`;

export function AlertsSettings({ client, base }: SettingsProps) {
  const alerts = useList<Alert>(client, `${base}/alerts`);
  const action = useAction(async (alert: Alert, change: 'toggle' | 'delete') => {
    if (change === 'delete') await client.send('DELETE', `${base}/alerts/${alert.id}`);
    else await client.send('PUT', `${base}/alerts/${alert.id}`, { is_enabled: !alert.is_enabled });
    alerts.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Alerts</h2>
        <p>
          An alert fires a webhook event (alert.triggered) when a goal completes or a metric crosses a
          threshold.
        </p>
        <ErrorMessage error={alerts.error ?? action.failure} />
        <ListTable
          items={alerts.data}
          empty="No alerts yet."
          caption="Alerts"
          columns={['Name', 'When', 'Last fired']}
          row={(a) => (
            <tr key={a.id}>
              <th scope="row">
                {a.name}
                {!a.is_enabled && <span class="badge">paused</span>}
              </th>
              <td>{describeTrigger(a.trigger)}</td>
              <td>{a.last_fired_at ? formatDateTime(a.last_fired_at) : 'Never'}</td>
              <td class="actions">
                <RowAction
                  label={a.is_enabled ? 'Pause' : 'Resume'}
                  item={`alert ${a.name}`}
                  onClick={() => action.run(a, 'toggle')}
                />
                <RowAction
                  label="Delete"
                  item={`alert ${a.name}`}
                  question={`Delete the alert ${a.name}?`}
                  danger
                  onClick={() => action.run(a, 'delete')}
                />
              </td>
            </tr>
          )}
        />
      </section>
      <AlertForm client={client} base={base} onCreated={alerts.reload} />
    </>
  );
}

function AlertForm({ client, base, onCreated }: AddFormProps) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'goal' | 'threshold'>('goal');
  const [goalName, setGoalName] = useState('');
  const [metric, setMetric] = useState('visitors');
  const [op, setOp] = useState('gt');
  const [value, setValue] = useState('100');
  const [windowMinutes, setWindowMinutes] = useState('60');
  const [subject, setSubject] = useState('{{alert_name}} on {{site_domain}}');
  const [message, setMessage] = useState('');
  const form = useSubmit(async () => {
    const trigger =
      kind === 'goal'
        ? { goal_name: goalName }
        : { metric, op, value: Number(value), window_minutes: Number(windowMinutes) };
    await client.send('POST', `${base}/alerts`, { name, trigger, template: { subject, message } });
    setName('');
    onCreated();
  });
  return (
    <AddFormCard titleId="alert-form-title" title="Add an alert" form={form} submitLabel="Add alert">
      <Field label="Name" name="name" value={name} onValue={setName} failure={form.failure} />
      <SelectField
        label="Fires when"
        value={kind}
        onValue={(v) => setKind(v as 'goal' | 'threshold')}
        options={[
          { value: 'goal', label: 'A goal completes' },
          { value: 'threshold', label: 'A metric crosses a threshold' },
        ]}
      />
      {kind === 'goal' ? (
        <Field
          label="Goal name"
          field="trigger.goal_name"
          value={goalName}
          onValue={setGoalName}
          failure={form.failure}
        />
      ) : (
        <div class="row-fields">
          <SelectField
            label="Metric"
            value={metric}
            onValue={setMetric}
            options={['visitors', 'pageviews', 'events'].map((m) => ({ value: m, label: m }))}
          />
          <SelectField
            label="Is"
            value={op}
            onValue={setOp}
            options={[
              { value: 'gt', label: 'above' },
              { value: 'lt', label: 'below' },
            ]}
          />
          <Field
            label="Value"
            field="trigger.value"
            type="number"
            min={0}
            value={value}
            onValue={setValue}
            failure={form.failure}
          />
          <Field
            label="Over (minutes)"
            field="trigger.window_minutes"
            type="number"
            min={1}
            value={windowMinutes}
            onValue={setWindowMinutes}
            failure={form.failure}
          />
        </div>
      )}
      <Field
        label="Subject"
        field="template.subject"
        value={subject}
        onValue={setSubject}
        failure={form.failure}
      />
      <Field
        label="Message"
        field="template.message"
        hint="Placeholders: {{alert_name}}, {{site_domain}}, {{goal_name}}, {{metric}}, {{value}}, {{threshold}}."
        value={message}
        onValue={setMessage}
        failure={form.failure}
      />
    </AddFormCard>
  );
}
