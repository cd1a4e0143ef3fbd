import { formatDuration, formatInstant, parseDuration, parseInstant, parseInterval } from '../../src/domain/iso8601.js';

describe('ISO 8601', () => {
  it.each([
    ['PT1H', 3_600_000], ['PT90M', 5_400_000], ['P1D', 86_400_000], ['P1W', 604_800_000],
    ['PT0.5S', 500], ['P1DT2H3M4S', 93_784_000], ['PT0S', 0],
  ])('reads the duration %s', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([['P1H', 'syntax'], ['PT', 'syntax'], ['P', 'syntax'], ['P1Y', 'calendar'], ['P2M', 'calendar'], ['-PT1H', 'negative'], ['1H', 'syntax']])(
    'refuses the duration %s (%s)', (text, reason) => {
      expect(parseDuration(text)).toEqual({ ok: false, reason });
    });

  it('writes durations that read back the same', () => {
    for (const ms of [0, 1, 999, 1000, 61_000, 3_600_000, 90_061_500, 7 * 86_400_000]) {
      const parsed = parseDuration(formatDuration(ms));
      expect(parsed).toEqual({ ok: true, ms });
    }
    expect(formatDuration(5_400_000)).toBe('PT1H30M');
  });

  it('reads instants with zones, fractions and bare dates', () => {
    expect(parseInstant('2025-11-25T05:13:00Z')).toBe(Date.UTC(2025, 10, 25, 5, 13));
    expect(parseInstant('2025-11-25T05:12:49.399263503Z')).toBe(Date.UTC(2025, 10, 25, 5, 12, 49, 399));
    expect(parseInstant('2025-11-25T06:13:00+01:00')).toBe(Date.UTC(2025, 10, 25, 5, 13));
    expect(parseInstant('2025-11-25')).toBe(Date.UTC(2025, 10, 25));
    expect(parseInstant('2025-02-30T00:00:00Z')).toBeUndefined();
    expect(parseInstant('yesterday')).toBeUndefined();
    expect(formatInstant(Date.UTC(2025, 10, 25, 5, 13))).toBe('2025-11-25T05:13:00Z');
  });

  it('reads the three interval forms and a bare instant, and refuses repeats and reversed ones', () => {
    const start = Date.UTC(2023, 7, 9, 12);
    const end = Date.UTC(2023, 7, 9, 13);
    expect(parseInterval('2023-08-09T12:00:00Z/2023-08-09T13:00:00Z')).toEqual({ ok: true, interval: { start, end } });
    expect(parseInterval('2023-08-09T12:00:00Z/PT1H')).toEqual({ ok: true, interval: { start, end } });
    expect(parseInterval('PT1H/2023-08-09T13:00:00Z')).toEqual({ ok: true, interval: { start, end } });
    expect(parseInterval('2023-08-09T12:00:00Z')).toEqual({ ok: true, interval: { start, end: start } });
    expect(parseInterval('R5/2023-08-09T12:00:00Z/PT1H')).toEqual({ ok: false, reason: 'repeating' });
    expect(parseInterval('2023-08-09T13:00:00Z/2023-08-09T12:00:00Z')).toEqual({ ok: false, reason: 'reversed' });
    expect(parseInterval('soon/later')).toEqual({ ok: false, reason: 'syntax' });
  });
});
