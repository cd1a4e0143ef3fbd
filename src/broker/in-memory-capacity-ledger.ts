import { CapacityCalendar } from '../domain/capacity-calendar.js';
import { siteCapacity } from '../domain/plan-offers.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { CapacityLedger, HoldAsk, HoldOutcome } from './ports.js';

/**
 * The capacity ledger held in this process's memory, on the domain's calendar. It is the model
 * the Redis ledger is checked against and what the planner's property tests run on; a broker
 * never uses it (capacity must live in Redis, shared by every process).
 */
export class InMemoryCapacityLedger implements CapacityLedger {
  private readonly calendars = new Map<string, CapacityCalendar>();
  readonly holds = new Map<string, { site: string; ask: HoldAsk; start: number }>();

  calendar(site: string): CapacityCalendar {
    let calendar = this.calendars.get(site);
    if (!calendar) { calendar = new CapacityCalendar(); this.calendars.set(site, calendar); }
    return calendar;
  }

  async findAndHold(site: SiteProfile, ask: HoldAsk, now: number, answerBy: number): Promise<HoldOutcome> {
    if (now > answerBy) return { outcome: 'late' };
    const existing = this.holds.get(ask.id);
    if (existing) return { outcome: 'held', start: existing.start };
    const calendar = this.calendar(site.name);
    const start = calendar.earliestFit({ amounts: ask.amounts, capacity: siteCapacity(site), earliest: ask.earliest, latest: ask.latest, length: ask.length });
    if (typeof start !== 'number') return { outcome: start };
    calendar.reserve(ask.amounts, start, start + ask.length - 1);
    this.holds.set(ask.id, { site: site.name, ask, start });
    return { outcome: 'held', start };
  }

  release(id: string): void {
    const hold = this.holds.get(id);
    if (!hold) return;
    this.calendar(hold.site).reserve(hold.ask.amounts, hold.start, hold.start + hold.ask.length - 1, -1);
    this.holds.delete(id);
  }

  async usageAt(site: string, resource: string, bucket: number): Promise<number> {
    return this.calendar(site).usage(resource, bucket);
  }
}
