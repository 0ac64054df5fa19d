import { useState } from 'preact/hooks';
import type { Goal } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
import { formatNumber } from './format';
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
        {goals.data?.length === 0 && <p class="empty">No goals yet.</p>}
        {!!goals.data?.length && (
          <table class="list-table">
            <caption class="sr-only">Goals</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Completed by</th>
                <th scope="col" class="num">
                  Last 30 days
                </th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {goals.data.map((g) => (
                <tr key={g.id}>
                  <th scope="row">{g.name}</th>
                  <td>{g.event_name ? `Event ${g.event_name}` : `Visit of ${g.page_path}`}</td>
                  <td class="num">{g.events_last_30d === null ? '–' : formatNumber(g.events_last_30d)}</td>
                  <td>
                    <button
                      type="button"
                      class="link-button danger"
                      onClick={() => confirm(`Delete the goal ${g.name}?`) && remove.run(g.id)}
                    >
                      Delete<span class="sr-only"> goal {g.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <GoalForm {...{ client, base }} onCreated={goals.reload} />
    </>
  );
}

function GoalForm({
  client,
  base,
  onCreated,
}: Pick<SettingsProps, 'client' | 'base'> & { onCreated(): void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'event' | 'page'>('event');
  const [target, setTarget] = useState('');
  const { busy, failure, submit } = useSubmit(async () => {
    const body = kind === 'event' ? { name, event_name: target } : { name, page_path: target };
    await client.send('POST', `${base}/goals`, body);
    setName('');
    setTarget('');
    onCreated();
  });
  return (
    <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby="goal-form-title">
      <h2 id="goal-form-title">Add a goal</h2>
      <Field label="Name" name="name" value={name} onValue={setName} failure={failure} />
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
        failure={failure}
      />
      <ErrorMessage error={failure} />
      <div>
        <button class="button" type="submit" disabled={busy}>
          Add goal
        </button>
      </div>
    </form>
  );
}
