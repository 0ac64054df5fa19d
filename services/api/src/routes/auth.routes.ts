import { hashPassword, verifyPassword } from '@tidemark/auth';
import { dataOf, loginBody, session, signupBody, signupResult } from '@tidemark/api-schemas';
import { ApiError } from '@tidemark/http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  createUserWithAccount,
  findUserByEmail,
  toAccountResponse,
  toUserResponse,
} from '../users/users.store';
import { BODY_ERRORS, errorResponses, type RouteContext } from './context';

/** Signup and login: the only /api/v1 routes without a token (the per-IP limit still applies). */
export const authRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, ctx) => {
  app.post(
    '/signup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a user and the account it owns',
        body: signupBody,
        response: { 201: dataOf(signupResult), ...errorResponses(400, 403, 409, 429, ...BODY_ERRORS) },
      },
    },
    async (req, reply) => {
      const { email, password, name } = req.body;
      const passwordHash = await hashPassword(password);
      const { user, account } = await createUserWithAccount(ctx.pool, {
        email,
        passwordHash,
        name: name ?? null,
        onlyIfFirst: !ctx.config.SIGNUP_OPEN,
      });
      const issued = await ctx.sessions.issue(user.id);
      return reply.code(201).send({
        data: {
          user: toUserResponse(user),
          account: toAccountResponse(account),
          token: issued.token,
          expires_at: issued.expiresAt.toISOString(),
        },
      });
    },
  );

  app.post(
    '/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for a session token',
        body: loginBody,
        response: { 200: dataOf(session), ...errorResponses(400, 401, 429, ...BODY_ERRORS) },
      },
    },
    async (req) => {
      const user = await findUserByEmail(ctx.pool, req.body.email);
      // Always one scrypt verification, against a dummy hash for unknown emails: same answer, same time.
      const matches = await verifyPassword(
        req.body.password,
        user?.password_hash ?? (await ctx.dummyPasswordHash),
      );
      if (!user || !matches) throw new ApiError('invalid_credentials', 'wrong email or password');
      const issued = await ctx.sessions.issue(user.id);
      return { data: { token: issued.token, expires_at: issued.expiresAt.toISOString() } };
    },
  );
};
