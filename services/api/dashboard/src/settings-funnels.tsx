import { useState } from 'preact/hooks';
import type { Funnel, FunnelStep } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
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
        {funnels.data?.length === 0 && <p class="empty">No funnels yet.</p>}
        {!!funnels.data?.length && (
          <table class="list-table">
            <caption class="sr-only">Funnels</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Steps</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {funnels.data.map((f) => (
                <tr key={f.id}>
                  <th scope="row">{f.name}</th>
                  <td>{f.steps.map(describeStep).join(' → ')}</td>
                  <td>
                    <button
                      type="button"
                      class="link-button danger"
                      onClick={() => confirm(`Delete the funnel ${f.name}?`) && remove.run(f.id)}
                    >
                      Delete<span class="sr-only"> funnel {f.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
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

function FunnelForm({
  client,
  base,
  onCreated,
}: Pick<SettingsProps, 'client' | 'base'> & { onCreated(): void }) {
  const [name, setName] = useState('');
  const [windowMinutes, setWindowMinutes] = useState('1440');
  const [steps, setSteps] = useState<DraftStep[]>([emptyStep(), emptyStep()]);
  const change = (i: number, patch: Partial<DraftStep>) =>
    setSteps(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const { busy, failure, submit } = useSubmit(async () => {
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
    <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby="funnel-form-title">
      <h2 id="funnel-form-title">Add a funnel</h2>
      <Field label="Name" name="name" value={name} onValue={setName} failure={failure} />
      <Field
        label="Window (minutes)"
        name="window_minutes"
        type="number"
        min={1}
        value={windowMinutes}
        onValue={setWindowMinutes}
        failure={failure}
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
                failure={failure}
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
                failure={failure}
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
      <ErrorMessage error={failure} />
      <div>
        <button class="button" type="submit" disabled={busy}>
          Add funnel
        </button>
      </div>
    </form>
  );
}
