import { publishedParameterRoot } from '../config/naming';
import { TAG_BINDING, TAG_CLUSTER, TAG_REGION } from '../ownership';
import type {
  Action,
  DesiredState,
  Discovery,
  ObservedRole,
  ObservedState,
  ReconcilerConfig,
} from '../types';

/**
 * The published role ARNs follow their roles, pure: a desired role's parameter is put when missing or
 * holding another value, and only once the role's own actions went through (apply.ts); a parameter
 * whose role is gone, or deleted by this plan, is deleted. A parameter of a role that is kept (its
 * cluster opted out, say) stays. Nothing changes in a region whose scan or parameter read failed.
 */
export function planParameters(
  desired: DesiredState,
  observed: ObservedState,
  discovery: Discovery,
  config: ReconcilerConfig,
  remainingRoles: readonly ObservedRole[],
): Action[] {
  if (observed.parameters === undefined) return [];
  const actions: Action[] = [];
  const readable = (region: string) =>
    observed.parameters?.get(region) !== undefined &&
    discovery.regions.some((scan) => scan.region === region && scan.status === 'complete');
  const current = new Map(
    [...observed.parameters.values()]
      .flatMap((list) => list ?? [])
      .map((item) => [key(item.region, item.name), item]),
  );
  const wanted = new Set<string>();
  for (const parameter of desired.parameters) {
    wanted.add(key(parameter.region, parameter.name));
    if (observed.parameters.get(parameter.region) === undefined) continue;
    const existing = current.get(key(parameter.region, parameter.name));
    if (existing?.value === parameter.value) continue;
    actions.push({ kind: 'put-parameter', parameter, create: existing === undefined });
  }
  const root = publishedParameterRoot(config.stage);
  const kept = new Set(
    remainingRoles.flatMap((role) => {
      const region = role.tags[TAG_REGION];
      const cluster = role.tags[TAG_CLUSTER];
      const binding = role.tags[TAG_BINDING];
      return region && cluster && binding ? [key(region, `${root}${cluster}/${binding}`)] : [];
    }),
  );
  for (const [id, parameter] of current) {
    if (wanted.has(id) || kept.has(id) || !readable(parameter.region)) continue;
    actions.push({
      kind: 'delete-parameter',
      region: parameter.region,
      name: parameter.name,
      reason: 'its role is gone',
    });
  }
  return actions;
}

function key(region: string, name: string): string {
  return JSON.stringify([region, name]);
}
