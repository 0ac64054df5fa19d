import { useState } from 'preact/hooks';
import type { Goal } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
import { formatNumber } from './format';
import { AddFormCard, ListTable, RowAction, type AddFormProps } from './settings-list';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

export function GoalsSettings({ client, base }: SettingsProps) {
  const goals = useList<Goal>(client, `${base}/goals`);
  const remove = useAction(async (id: string) => {
    await client.send('DELETE', `${base}/goals/${id}`);
    goals.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="goals-title">
        <h2 id="goals-title">Goals</h2>
        <p>
          A goal completes on a custom event (<code>tidemark('signup')</code>) or on a visit of a page.
        </p>
        <ErrorMessage error={goals.error ?? remove.failure} />
        <ListTable
          items={goals.data}
          empty="No goals yet."
          caption="Goals"
          columns={['Name', 'Completed by', { label: 'Last 30 days', num: true }]}
          row={(g) => (
            <tr key={g.id}>
              <th scope="row">{g.name}</th>
              <td>{g.event_name ? `Event ${g.event_name}` : `Visit of ${g.page_path}`}</td>
              <td class="num">{g.events_last_30d === null ? '–' : formatNumber(g.events_last_30d)}</td>
              <td>
                <RowAction
                  label="Delete"
                  item={`goal ${g.name}`}
                  question={`Delete the goal ${g.name}?`}
                  danger
                  onClick={() => remove.run(g.id)}
                />
              </td>
            </tr>
          )}
        />
      </section>
      <GoalForm {...{ client, base }} onCreated={goals.reload} />
    </>
  );
}

function GoalForm({ client, base, onCreated }: AddFormProps) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'event' | 'page'>('event');
  const [target, setTarget] = useState('');
  const form = useSubmit(async () => {
    const body = kind === 'event' ? { name, event_name: target } : { name, page_path: target };
    await client.send('POST', `${base}/goals`, body);
    setName('');
    setTarget('');
    onCreated();
  });
  return (
    <AddFormCard titleId="goal-form-title" title="Add a goal" form={form} submitLabel="Add goal">
      <Field label="Name" name="name" value={name} onValue={setName} failure={form.failure} />
      <SelectField
        label="Completed by"
        value={kind}
        onValue={(v) => setKind(v as 'event' | 'page')}
        options={[
          { value: 'event', label: 'A custom event' },
          { value: 'page', label: 'A visit of a page' },
        ]}
      />
      <Field
        label={kind === 'event' ? 'Event name' : 'Page path'}
        name={kind === 'event' ? 'event_name' : 'page_path'}
        placeholder={kind === 'event' ? 'signup' : '/thank-you'}
        hint={
          kind === 'page' ? 'A trailing * matches every path that starts with the rest: /blog/*' : undefined
        }
        value={target}
        onValue={setTarget}
        failure={form.failure}
      />
    </AddFormCard>
  );
}
