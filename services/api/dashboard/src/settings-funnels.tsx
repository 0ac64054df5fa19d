import { useState } from 'preact/hooks';
import type { Funnel, FunnelStep } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
import { AddFormCard, ListTable, RowAction, type AddFormProps } from './settings-list';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

const MIN_STEPS = 2;
const MAX_STEPS = 8;

const describeStep = (step: FunnelStep) => (step.type === 'pageview' ? step.url : `goal ${step.goal_name}`);

export function FunnelsSettings({ client, base }: SettingsProps) {
  const funnels = useList<Funnel>(client, `${base}/funnels`);
  const remove = useAction(async (id: string) => {
    await client.send('DELETE', `${base}/funnels/${id}`);
    funnels.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="funnels-title">
        <h2 id="funnels-title">Funnels</h2>
        <p>A visitor counts for a step once they did every step before it, in order, within the window.</p>
        <ErrorMessage error={funnels.error ?? remove.failure} />
        <ListTable
          items={funnels.data}
          empty="No funnels yet."
          caption="Funnels"
          columns={['Name', 'Steps']}
          row={(f) => (
            <tr key={f.id}>
              <th scope="row">{f.name}</th>
              <td>{f.steps.map(describeStep).join(' → ')}</td>
              <td>
                <RowAction
                  label="Delete"
                  item={`funnel ${f.name}`}
                  question={`Delete the funnel ${f.name}?`}
                  danger
                  onClick={() => remove.run(f.id)}
                />
              </td>
            </tr>
          )}
        />
      </section>
      <FunnelForm client={client} base={base} onCreated={funnels.reload} />
    </>
  );
}

interface DraftStep {
  name: string;
  type: 'pageview' | 'goal';
  target: string;
}

const emptyStep = (): DraftStep => ({ name: '', type: 'pageview', target: '' });

function FunnelForm({ client, base, onCreated }: AddFormProps) {
  const [name, setName] = useState('');
  const [windowMinutes, setWindowMinutes] = useState('1440');
  const [steps, setSteps] = useState<DraftStep[]>([emptyStep(), emptyStep()]);
  const change = (i: number, patch: Partial<DraftStep>) =>
    setSteps(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const form = useSubmit(async () => {
    await client.send('POST', `${base}/funnels`, {
      name,
      window_minutes: Number(windowMinutes),
      steps: steps.map((s) =>
        s.type === 'pageview'
          ? { name: s.name, type: 'pageview', url: s.target }
          : { name: s.name, type: 'goal', goal_name: s.target },
      ),
    });
    setName('');
    setSteps([emptyStep(), emptyStep()]);
    onCreated();
  });
  return (
    <AddFormCard titleId="funnel-form-title" title="Add a funnel" form={form} submitLabel="Add funnel">
      <Field label="Name" name="name" value={name} onValue={setName} failure={form.failure} />
      <Field
        label="Window (minutes)"
        name="window_minutes"
        type="number"
        min={1}
        value={windowMinutes}
        onValue={setWindowMinutes}
        failure={form.failure}
      />
      <ol class="steps">
        {steps.map((step, i) => (
          <li key={i}>
            <fieldset class="step">
              <legend>Step {i + 1}</legend>
              <Field
                label="Step name"
                field={`steps.${i}.name`}
                value={step.name}
                onValue={(v) => change(i, { name: v })}
                failure={form.failure}
              />
              <SelectField
                label="Type"
                value={step.type}
                onValue={(v) => change(i, { type: v as DraftStep['type'] })}
                options={[
                  { value: 'pageview', label: 'Visit of a page' },
                  { value: 'goal', label: 'Goal' },
                ]}
              />
              <Field
                label={step.type === 'pageview' ? 'Page path' : 'Goal name'}
                field={`steps.${i}.${step.type === 'pageview' ? 'url' : 'goal_name'}`}
                placeholder={step.type === 'pageview' ? '/pricing' : 'Signup'}
                value={step.target}
                onValue={(v) => change(i, { target: v })}
                failure={form.failure}
              />
              {steps.length > MIN_STEPS && (
                <button
                  type="button"
                  class="link-button danger"
                  onClick={() => setSteps(steps.filter((_, j) => j !== i))}
                >
                  Remove step {i + 1}
                </button>
              )}
            </fieldset>
          </li>
        ))}
      </ol>
      {steps.length < MAX_STEPS && (
        <div>
          <button type="button" class="button secondary" onClick={() => setSteps([...steps, emptyStep()])}>
            Add a step
          </button>
        </div>
      )}
    </AddFormCard>
  );
}
