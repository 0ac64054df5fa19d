import type { Pool } from '@tidemark/db';
import { ApiError } from '@tidemark/http';
import { recordActivity } from '../activity';
import { isUniqueViolation, withTransaction, type Queryable } from '../db';

export interface UserRow {
  id: string;
  account_id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: Date;
}

export interface AccountRow {
  id: string;
  name: string;
  plan: string;
  created_at: Date;
}

// Any constant: it serialises signups so "only the first user" holds under concurrent requests.
const SIGNUP_LOCK = 7_246_101;

/**
 * Creates a user and the account it owns, in one transaction. With `onlyIfFirst` (signup closed by
 * configuration) it refuses once any user exists. Pending invites to the email become memberships.
 */
export async function createUserWithAccount(
  pool: Pool,
  input: { email: string; passwordHash: string; name: string | null; onlyIfFirst: boolean },
): Promise<{ user: UserRow; account: AccountRow }> {
  try {
    return await withTransaction(pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SIGNUP_LOCK]);
      if (input.onlyIfFirst) {
        const { rows } = await tx.query('SELECT 1 FROM users LIMIT 1');
        if (rows.length > 0)
          throw new ApiError('forbidden', 'signup is closed on this server; ask an operator');
      }
      const { rows: accounts } = await tx.query<AccountRow>(
        'INSERT INTO accounts (name) VALUES ($1) RETURNING id, name, plan, created_at',
        [input.name ?? input.email],
      );
      const account = accounts[0]!;
      const { rows: users } = await tx.query<UserRow>(
        `INSERT INTO users (account_id, email, name, password_hash) VALUES ($1, $2, $3, $4)
         RETURNING id, account_id, email, name, password_hash, created_at`,
        [account.id, input.email, input.name, input.passwordHash],
      );
      const user = users[0]!;
      await acceptInvites(tx, user);
      return { user, account };
    });
  } catch (err) {
    if (isUniqueViolation(err, 'users_email_key')) {
      throw new ApiError('conflict', 'this email is already registered');
    }
    throw err;
  }
}

async function acceptInvites(tx: Queryable, user: UserRow) {
  const { rows } = await tx.query<{ site_id: string; role: string; account_id: string }>(
    `WITH accepted AS (
       DELETE FROM site_invites WHERE email = $2 RETURNING site_id, role, invited_by, created_at
     )
     INSERT INTO site_members (site_id, user_id, role, invited_by, created_at)
     SELECT a.site_id, $1, a.role, a.invited_by, a.created_at FROM accepted a
     ON CONFLICT (site_id, user_id) DO NOTHING
     RETURNING site_members.site_id, site_members.role,
               (SELECT s.account_id FROM sites s WHERE s.id = site_members.site_id) AS account_id`,
    [user.id, user.email],
  );
  for (const row of rows) {
    await recordActivity(tx, {
      accountId: row.account_id,
      actor: { userId: user.id, tokenId: null },
      action: 'team_member.joined',
      resourceType: 'team_member',
      resourceId: user.id,
      siteId: row.site_id,
      metadata: { email: user.email, role: row.role },
    });
  }
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    'SELECT id, account_id, email, name, password_hash, created_at FROM users WHERE email = $1',
    [email],
  );
  return rows[0] ?? null;
}

export async function findUserAndAccount(
  db: Queryable,
  userId: string,
): Promise<{ user: UserRow; account: AccountRow } | null> {
  const { rows } = await db.query<
    UserRow & { a_id: string; a_name: string; a_plan: string; a_created_at: Date }
  >(
    `SELECT u.id, u.account_id, u.email, u.name, u.password_hash, u.created_at,
            a.id AS a_id, a.name AS a_name, a.plan AS a_plan, a.created_at AS a_created_at
       FROM users u JOIN accounts a ON a.id = u.account_id
      WHERE u.id = $1`,
    [userId],
  );
  const row = rows[0];
  if (!row) return null;
  const { a_id, a_name, a_plan, a_created_at, ...user } = row;
  return { user, account: { id: a_id, name: a_name, plan: a_plan, created_at: a_created_at } };
}

export const toUserResponse = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  created_at: u.created_at.toISOString(),
});

export const toAccountResponse = (a: AccountRow) => ({
  id: a.id,
  name: a.name,
  plan: a.plan,
  created_at: a.created_at.toISOString(),
});
