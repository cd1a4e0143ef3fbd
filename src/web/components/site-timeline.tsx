import { clockTime } from '../lib/format.js';
import { styleOf } from '../lib/phases.js';
import type { Bar, SiteBars } from '../lib/site-bars.js';
import { peakWithin, timeScale } from '../lib/timeline-layout.js';
import { PureComponent } from './pure-component.js';

const USAGE_HEIGHT = 26;
const LANE = 18;
const BAR = 14;

export interface SiteTimelineProps {
  data: SiteBars;
  from: number;
  to: number;
  width: number;
  now: number;
  /** The current offers (uuid -> their number), drawn as outlined ghosts. */
  offers: ReadonlyMap<string, number>;
}

/** What a bar says in words: its tooltip and its accessible name. */
function describe(bar: Bar, offer: number | undefined): string {
  const size = `${bar.cores} cores, ${bar.memoryGiB} GiB${bar.gpu ? `, ${bar.gpu.count} ${bar.gpu.model}` : ''}`;
  return `${offer ? `Offer ${offer}, ` : ''}${bar.phase}${bar.name ? ` – ${bar.name}` : ''}: held ${clockTime(bar.start)}–${clockTime(bar.end)}, runs ${clockTime(bar.availableStart)}–${clockTime(bar.availableEnd)}; ${size}${bar.owner ? `; ${bar.owner}` : ''}${bar.uuid ? '' : ' (someone else\'s)'}`;
}

/**
 * One site's reservations as a Gantt chart (SVG): the cores held over time on top, against the
 * site's cores; below, a bar per reservation in lanes, its colour the phase, the run itself darker
 * than preparing and releasing around it. The phase is written in the bar (when it fits) and in
 * its tooltip and accessible name; the viewer's own bars link to their session.
 */
export class SiteTimeline extends PureComponent<SiteTimelineProps> {
  override render() {
    const { data, from, to, width, now, offers } = this.props;
    const x = timeScale(from, to, width);
    const height = USAGE_HEIGHT + 6 + Math.max(1, data.lanes) * LANE;
    const capacity = Math.max(1, data.capacity.cores);
    const y = (cores: number): number => USAGE_HEIGHT - Math.min(1, cores / capacity) * (USAGE_HEIGHT - 2);
    let path = `M ${x(from)} ${USAGE_HEIGHT}`;
    for (const step of data.cores) {
      if (step.at > to) break;
      const at = x(Math.max(step.at, from));
      path += ` H ${at} V ${y(step.value)}`;
    }
    path += ` H ${x(to)} V ${USAGE_HEIGHT} Z`;
    const peak = peakWithin(data.cores, from, to);
    const bars = data.bars.filter((bar) => bar.end >= from && bar.start <= to);
    return (
      <svg class="site-timeline" width={width} height={height} role="group" aria-label={`Reservations on ${data.site}`} data-site={data.site} data-bars={bars.length}>
        <g aria-hidden="true">
          <title>{`Cores held on ${data.site}: at most ${peak} of ${data.capacity.cores} in this window`}</title>
          <rect class="usage-bg" x={0} y={0} width={width} height={USAGE_HEIGHT} />
          <path class="usage" d={path} />
          <text class="usage-label" x={4} y={11}>{`cores held: peak ${peak} / ${data.capacity.cores}`}</text>
        </g>
        {bars.map((bar) => {
          const offer = bar.uuid ? offers.get(bar.uuid) : undefined;
          const x0 = x(bar.start);
          const w = Math.max(2, x(bar.end) - x0);
          const runX = x(bar.availableStart);
          const runW = Math.max(1, x(bar.availableEnd) - runX);
          const top = USAGE_HEIGHT + 6 + bar.lane * LANE;
          const style = styleOf(bar.phase);
          const label = `${offer ? `Offer ${offer} · ` : ''}${bar.phase}${bar.name ? ` · ${bar.name}` : ''}`;
          const fits = Math.floor((w - 6) / 6.4);
          const description = describe(bar, offer);
          const shapes = [
            <rect class="hold" x={x0} y={top} width={w} height={BAR} fill={style.fill} />,
            <rect class="run" x={runX} y={top + 2} width={runW} height={BAR - 4} fill={style.fill} />,
            fits >= 4 ? <text class="bar-label" x={x0 + 3} y={top + 11} fill={style.text}>{label.length > fits ? `${label.slice(0, fits - 1)}…` : label}</text> : null,
          ];
          const className = `bar${offer ? ' offer-ghost' : ''}${bar.uuid ? ' own' : ' other'}`;
          return bar.uuid ? (
            <a key={bar.key} class={className} href={`#/sessions/${bar.uuid}`} aria-label={description} data-phase={bar.phase} data-uuid={bar.uuid}>
              <title>{description}</title>
              {shapes}
            </a>
          ) : (
            <g key={bar.key} class={className} role="img" aria-label={description} data-phase={bar.phase}>
              <title>{description}</title>
              {shapes}
            </g>
          );
        })}
        {now >= from && now <= to ? <line class="now" x1={x(now)} x2={x(now)} y1={0} y2={height} aria-hidden="true" /> : null}
      </svg>
    );
  }
}
