import { ApiError } from '@tidemark/http';

/** A goal as stored (API.md): completed by an event of that name, or by a pageview of that path. */
export interface GoalDefinition {
  name: string;
  event_name?: string | null;
  /** May end in `*` (and, like the `page` filter, hold `*` anywhere). */
  page_path?: string | null;
}

export type GoalMatch = { kind: 'event'; eventName: string } | { kind: 'page'; path: string };

export function goalMatch(goal: GoalDefinition): GoalMatch {
  if (goal.event_name) return { kind: 'event', eventName: goal.event_name };
  if (goal.page_path) return { kind: 'page', path: goal.page_path };
  throw new Error(`goal ${JSON.stringify(goal.name)} has neither event_name nor page_path`);
}

/** Looks goal names up; an unknown name is the caller's mistake, reported against `param`. */
export function resolveGoals(
  names: readonly string[],
  goals: readonly GoalDefinition[],
  param = 'goal',
): GoalDefinition[] {
  return names.map((name) => {
    const goal = goals.find((g) => g.name === name);
    if (!goal) {
      const message = `has no goal named ${JSON.stringify(name)} on this site`;
      throw new ApiError('invalid_request', `\`${param}\` ${message}`, { [param]: [message] });
    }
    return goal;
  });
}
