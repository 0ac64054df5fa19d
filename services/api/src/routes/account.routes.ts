import { accountResult, dataOf, noQuery, updateAccountBody } from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requirePermission, type UserPrincipal } from '../auth/principal';
import { findUserAndAccount, toAccountResponse, toUserResponse } from '../users/users.store';
import { AUTHENTICATED_ERRORS, bearerAuth, BODY_ERRORS, errorResponses, type RouteContext } from './context';

export const accountRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.authenticateRoutes();

  async function accountView(principal: UserPrincipal) {
    const found = await findUserAndAccount(ctx.pool, principal.user.id);
    if (!found) throw new ApiError('not_found', 'no such user');
    const { rows } = await ctx.pool.query<{ id: string }>('SELECT id FROM sites WHERE account_id = $1', [
      found.account.id,
    ]);
    const counts = await ctx.analytics.eventsThisMonth(rows.map((r) => r.id));
    const events = counts ? [...counts.values()].reduce((a, b) => a + b, 0) : null;
    return {
      data: {
        user: toUserResponse(found.user),
        account: toAccountResponse(found.account),
        usage: { sites: rows.length, events_this_month: events },
      },
    };
  }

  app.get(
    '/',
    {
      schema: {
        tags: ['account'],
        summary: 'The calling user, their account, its plan and usage',
        security: bearerAuth,
        querystring: noQuery,
        response: { 200: dataOf(accountResult), ...errorResponses(...AUTHENTICATED_ERRORS) },
      },
    },
    async (req) => accountView(requirePermission(req.principal, 'account:read')),
  );

  app.put(
    '/',
    {
      schema: {
        tags: ['account'],
        summary: "Change the calling user's name",
        security: bearerAuth,
        body: updateAccountBody,
        response: { 200: dataOf(accountResult), ...errorResponses(...AUTHENTICATED_ERRORS, ...BODY_ERRORS) },
      },
    },
    async (req) => {
      const principal = requirePermission(req.principal, 'account:write');
      await ctx.pool.query('UPDATE users SET name = $2, updated_at = now() WHERE id = $1', [
        principal.user.id,
        req.body.name,
      ]);
      await ctx.caches.invalidate();
      return accountView(principal);
    },
  );
};
