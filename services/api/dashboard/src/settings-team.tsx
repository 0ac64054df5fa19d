import { useState } from 'preact/hooks';
import type { TeamMember } from './api-types';
import { ErrorMessage, Field, SelectField, useAction, useSubmit } from './forms';
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
  const { busy, failure, submit } = useSubmit(async () => {
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
        {!!team.data?.length && (
          <table class="list-table">
            <caption class="sr-only">People with access to this site</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {team.data.map((m) => (
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
                      <button
                        type="button"
                        class="link-button danger"
                        onClick={() => confirm(`Remove ${m.email}?`) && remove.run(m.email)}
                      >
                        Remove<span class="sr-only"> {m.email}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby="invite-title">
        <h2 id="invite-title">Invite someone</h2>
        <Field label="Email" name="email" type="email" value={email} onValue={setEmail} failure={failure} />
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
        <ErrorMessage error={failure} />
        <div>
          <button class="button" type="submit" disabled={busy}>
            Invite
          </button>
        </div>
      </form>
    </>
  );
}
