import { useState } from 'preact/hooks';
import type { TeamMember } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
import { AddFormCard, ListTable, RowAction } from './settings-list';
import type { SettingsProps } from './settings-page';
import { useList } from './use-list';

export function TeamSettings({ client, base }: SettingsProps) {
  const team = useList<TeamMember>(client, `${base}/team`);
  const remove = useAction(async (email: string) => {
    await client.send('DELETE', `${base}/team`, { email });
    team.reload();
  });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const form = useSubmit(async () => {
    await client.send('POST', `${base}/team`, { email, role });
    setEmail('');
    team.reload();
  });
  return (
    <>
      <section class="card" aria-labelledby="team-title">
        <h2 id="team-title">Team</h2>
        <p>Viewers see the dashboard; members also manage goals, funnels, alerts and webhooks.</p>
        <ErrorMessage error={team.error ?? remove.failure} />
        <ListTable
          items={team.data}
          caption="People with access to this site"
          columns={['Email', 'Role']}
          row={(m) => (
            <tr key={m.email}>
              <th scope="row" class="break">
                {m.email}
                {m.name && <span class="muted block">{m.name}</span>}
              </th>
              <td>
                {m.role}
                {m.status === 'pending' && <span class="badge">invited</span>}
              </td>
              <td>
                {m.role !== 'owner' && (
                  <RowAction
                    label="Remove"
                    item={m.email}
                    question={`Remove ${m.email}?`}
                    danger
                    onClick={() => remove.run(m.email)}
                  />
                )}
              </td>
            </tr>
          )}
        />
      </section>
      <AddFormCard titleId="invite-title" title="Invite someone" form={form} submitLabel="Invite">
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onValue={setEmail}
          failure={form.failure}
        />
        <SelectField
          label="Role"
          name="role"
          value={role}
          onValue={setRole}
          options={[
            { value: 'viewer', label: 'Viewer' },
            { value: 'member', label: 'Member' },
          ]}
        />
      </AddFormCard>
    </>
  );
}
