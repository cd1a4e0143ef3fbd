import type { OfferPlan } from '../domain/plan-offers.js';
import type { SessionSlot } from './ports.js';

/**
 * A plan's schedule and size as lists and timelines show them, kept beside the session's document:
 * taken from the plan's numbers, rather than read back out of the ISO strings written from them.
 */
export function slotOfPlan(plan: OfferPlan, name?: string): SessionSlot {
  return {
    ...(name ? { name } : {}),
    preparing: { start: plan.preparingStart, end: plan.preparingStart + plan.preparingMs },
    available: { start: plan.availableStart, end: plan.availableStart + plan.durationMs, latestStart: plan.availableStart + plan.startSlackMs },
    releasing: { start: plan.releasingStart, end: plan.releasingStart + plan.releasingMs },
    cores: plan.cores,
    memoryGiB: plan.memoryGiB,
    ...(plan.gpu ? { gpu: { model: plan.gpu.model, count: plan.gpu.count } } : {}),
  };
}
