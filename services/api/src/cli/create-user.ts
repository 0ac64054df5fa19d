/**
 * Operator command: creates a user and the account it owns (whatever SIGNUP_OPEN says) and prints an
 * account token with every permission, to script the rest through the API.
 *
 *   npm run create-user -w @tidemark/api-service -- --email admin@example.com --password '...' [--name Admin]
 *
 * The password can come from TIDEMARK_PASSWORD instead of the command line (which shell history and
 * `ps` keep). Reads DATABASE_URL; applies pending migrations first.
 */
import { parseArgs } from 'node:util';
import { hashPassword, issueToken, PERMISSIONS } from '@tidemark/auth';
import { signupBody } from '@tidemark/api-schemas';
import { parseEnv, postgresEnv, z } from '@tidemark/config';
import { createPool, migratePostgres } from '@tidemark/db';
import { ApiError, zodDetails } from '@tidemark/http';
import { recordActivity } from '../activity';
import { withTransaction } from '../db';
import { createUserWithAccount } from '../users/users.store';

function fail(message: string): never {
  console.error(`create-user: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
  strict: true,
});

const input = signupBody.safeParse({
  email: values.email,
  password: values.password ?? process.env.TIDEMARK_PASSWORD,
  ...(values.name ? { name: values.name } : {}),
});
if (!input.success) {
  const details = Object.entries(zodDetails(input.error))
    .map(([field, messages]) => `--${field}: ${messages.join('; ')}`)
    .join('\n  ');
  fail(`invalid arguments\n  ${details}`);
}

const env = parseEnv(z.object(postgresEnv));
const pool = createPool(env.DATABASE_URL, { max: 2, applicationName: 'tidemark-create-user' });
try {
  await migratePostgres(pool);
  const { user, account } = await createUserWithAccount(pool, {
    email: input.data.email,
    passwordHash: await hashPassword(input.data.password),
    name: input.data.name ?? null,
    onlyIfFirst: false,
  });
  const issued = issueToken('tma');
  await withTransaction(pool, async (tx) => {
    await tx.query(
      `INSERT INTO account_tokens (id, account_id, user_id, name, permissions, site_ids, secret_hash)
       VALUES ($1, $2, $3, $4, $5, NULL, $6)`,
      [issued.id, account.id, user.id, 'create-user', [...PERMISSIONS], issued.secretHash],
    );
    await recordActivity(tx, {
      accountId: account.id,
      actor: { userId: user.id, tokenId: null },
      action: 'access_token.created',
      resourceType: 'access_token',
      resourceId: issued.id,
      metadata: { name: 'create-user', permissions: PERMISSIONS, site_ids: null, via: 'cli' },
    });
  });
  console.log(`user     ${user.email} (${user.id})`);
  console.log(`account  ${account.id}`);
  console.log(`token    ${issued.token}`);
  console.log('The token has every permission and is shown only now: store it somewhere safe.');
} catch (err) {
  if (err instanceof ApiError) fail(err.message);
  throw err;
} finally {
  await pool.end();
}
