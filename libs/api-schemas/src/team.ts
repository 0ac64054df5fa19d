import { INVITABLE_ROLES, SITE_ROLES } from '@tidemark/auth';
import { z } from 'zod';
import { email, timestamp, uuid } from './common';

export const inviteBody = z.strictObject({
  email,
  role: z.enum(INVITABLE_ROLES, { error: `must be one of ${INVITABLE_ROLES.join(', ')}` }),
});

export const removeMemberBody = z.strictObject({ email });

export const teamMember = z.object({
  user_id: uuid.nullable().meta({ description: 'null for a pending invite (no user with that email yet)' }),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(SITE_ROLES),
  status: z.enum(['active', 'pending']),
  created_at: timestamp,
});

export const removedMember = z.object({ removed: z.literal(true), email: z.string() });
