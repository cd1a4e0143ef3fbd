import type { DataNeeds, ExecutableNeeds, ResolvedNeeds } from './execution-needs.js';
import { formatDuration, formatInstant } from './iso8601.js';
import { isError, makeMessage, type Message } from './messages.js';
import { assessSite, stagingMs, type OfferPlan } from './plan-offers.js';
import { checkProcessText } from './check-needs.js';
import type { SiteProfile } from './site-profile.js';

/** What a client binds to a held session: the executable and the data it reads. */
export interface BoundNeeds {
  executable: ExecutableNeeds;
  /** A data resource with no size takes the size the held session was planned with for the same name. */
  data: DataNeeds[];
}

export type BindingPlan = { needs: ResolvedNeeds; plan: OfferPlan } | { messages: Message[] };

/**
 * The schedule of a held session once its executable is bound at `now`: preparation starts now
 * (not before the held start), the data the binding brings is staged, and the run must begin
 * within the held start slack, so that it ends inside the capacity already held. What the site
 * cannot do (a data scheme, a file outside its roots, staging that would not fit) is said in
 * ERROR messages.
 */
export function planBinding(held: { needs: ResolvedNeeds; plan: OfferPlan }, bound: BoundNeeds, site: SiteProfile, now: number): BindingPlan {
  const sized = bound.data.map((data) => data.sizeGiB !== undefined ? data
    : { ...data, ...sizeOf(held.needs.data.find((planned) => planned.name === data.name)) });
  const needs: ResolvedNeeds = { ...held.needs, executable: bound.executable, data: sized };
  const refused = [...checkProcessText(bound.executable), ...assessSite(needs, site).filter(isError)];
  if (refused.length) return { messages: refused };
  const preparingMs = site.preparationMs + stagingMs(needs, site);
  const preparingStart = Math.max(held.plan.preparingStart, now);
  const availableStart = preparingStart + preparingMs;
  const latest = held.plan.availableStart + held.plan.startSlackMs;
  if (availableStart > latest) {
    return { messages: [makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} needs {preparing} to prepare this (staging the data included), so it could start at {start}, after the held start window closes at {latest}',
      { site: site.name, preparing: formatDuration(preparingMs), start: formatInstant(availableStart), latest: formatInstant(latest) })] };
  }
  return {
    needs,
    plan: {
      ...held.plan,
      preparingStart,
      preparingMs,
      availableStart,
      startSlackMs: 0,
      releasingStart: availableStart + held.plan.durationMs,
    },
  };
}

const sizeOf = (data: DataNeeds | undefined): Partial<DataNeeds> => (data?.sizeGiB === undefined ? {} : { sizeGiB: data.sizeGiB });
