import { filterLevel, filterParam, isPattern, type Filter } from '../filters';
import { goalMatch, resolveGoals, type GoalDefinition } from './goals';
import type { QueryParams } from './query-params';
import { EVENT_COLUMNS, isSessionAttribute, type SessionAttribute } from './schema';

/**
 * A filter value with `*` wildcards as a LIKE pattern: `%`, `_` and `\` are escaped first so they
 * match themselves, then every `*` becomes `%` (any run of characters, `/` included).
 */
export function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%');
}

/** SQL true when `column` equals one of the exact values or matches one of the patterns. */
export function matchValues(
  p: QueryParams,
  column: string,
  key: Filter['key'],
  values: readonly string[],
): string {
  const exact = values.filter((v) => !isPattern(key, v));
  const patterns = values.filter((v) => isPattern(key, v));
  const terms: string[] = [];
  if (exact.length === 1) terms.push(`${column} = ${p.bind(exact[0]!, 'String')}`);
  else if (exact.length > 1) terms.push(`${column} IN ${p.bind(exact, 'Array(String)')}`);
  for (const pattern of patterns) terms.push(`like(${column}, ${p.bind(likePattern(pattern), 'String')})`);
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
}

const negate = (filter: Filter, condition: string) => (filter.negated ? `NOT (${condition})` : condition);

/** On `events` rows: the event completes the goal. */
export function goalCondition(p: QueryParams, goal: GoalDefinition): string {
  const match = goalMatch(goal);
  if (match.kind === 'event') return `name = ${p.bind(match.eventName, 'String')}`;
  return `(name = 'pageview' AND ${matchValues(p, 'pathname', 'page', [match.path])})`;
}

/**
 * `arrayFilter((goal, hit) -> hit, names, [cond1, ...])`: the names of the goals a row completes,
 * for `arrayJoin` (a row can complete several goals, and each then counts for each).
 */
export function completedGoals(
  p: QueryParams,
  goals: readonly GoalDefinition[],
  conditionOf: (goal: GoalDefinition) => string,
): string {
  const names = p.bind(
    goals.map((g) => g.name),
    'Array(String)',
  );
  return `arrayFilter((goal, hit) -> hit, ${names}, [${goals.map((g) => `toBool(${conditionOf(g)})`).join(', ')}])`;
}

/**
 * An event-level or visitor-level filter on `events` rows. `page` applies to pageviews only (a
 * negated one selects pageviews of other pages), as the page rollup holds pageviews only.
 */
export function eventFilterCondition(
  p: QueryParams,
  filter: Filter,
  goals: readonly GoalDefinition[],
): string {
  switch (filter.key) {
    case 'page':
      return `(name = 'pageview' AND ${negate(filter, matchValues(p, 'pathname', 'page', filter.values))})`;
    case 'goal': {
      const resolved = resolveGoals(filter.values, goals);
      const any = resolved.map((g) => goalCondition(p, g));
      return negate(filter, any.length === 1 ? any[0]! : `(${any.join(' OR ')})`);
    }
    case 'prop':
      return negate(filter, matchValues(p, `props[${p.bind(filter.name, 'String')}]`, 'prop', filter.values));
    case 'hostname':
    case 'event':
    case 'country':
    case 'region':
    case 'city':
    case 'device':
    case 'browser':
    case 'os':
      return negate(filter, matchValues(p, EVENT_COLUMNS[filter.key], filter.key, filter.values));
    default:
      throw new Error(`${filterParam(filter)} is a ${filterLevel(filter)}-level filter, not one on events`);
  }
}

/**
 * A session-level or visitor-level filter on a session relation, whose attributes `attribute`
 * names: the aliases of grouped visits, never the aggregates themselves (see
 * `relations.filteredVisits`).
 */
export function sessionFilterCondition(
  p: QueryParams,
  filter: Filter,
  attribute: (attr: SessionAttribute) => string,
): string {
  if (!isSessionAttribute(filter.key)) {
    throw new Error(`${filterParam(filter)} is not a property of a visit`);
  }
  return negate(filter, matchValues(p, attribute(filter.key), filter.key, filter.values));
}

/** A filter on the `value` of a rollup row of one dimension (or a location column). */
export function rollupValueCondition(
  p: QueryParams,
  filter: Filter,
  column: string,
  goals: readonly GoalDefinition[],
): string {
  if (filter.key === 'goal') {
    const terms = resolveGoals(filter.values, goals).map((g) => {
      const match = goalMatch(g);
      return match.kind === 'event'
        ? `${column} = ${p.bind(match.eventName, 'String')}`
        : matchValues(p, column, 'page', [match.path]);
    });
    return negate(filter, terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`);
  }
  return negate(filter, matchValues(p, column, filter.key, filter.values));
}
