import type { OfferPlan } from '../domain/plan-offers.js';
import type { SessionSlot } from './ports.js';

/**
 * A plan's schedule and size as lists and timelines show them, kept beside the session's document:
 * taken from the plan's numbers, rather than read back out of the ISO strings written from them.
 */
export function slotOfPlan(plan: OfferPlan, name?: string): SessionSlot {
  // Assigned field by field (name first, as lists show it) rather than spread in: this runs for every offer.
  const slot = {} as SessionSlot;
  if (name) slot.name = name;
  slot.preparing = { start: plan.preparingStart, end: plan.preparingStart + plan.preparingMs };
  slot.available = { start: plan.availableStart, end: plan.availableStart + plan.durationMs, latestStart: plan.availableStart + plan.startSlackMs };
  slot.releasing = { start: plan.releasingStart, end: plan.releasingStart + plan.releasingMs };
  slot.cores = plan.cores;
  slot.memoryGiB = plan.memoryGiB;
  if (plan.gpu) slot.gpu = { model: plan.gpu.model, count: plan.gpu.count };
  return slot;
}
