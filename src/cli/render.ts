import type { OfferSet, Session } from '../client/broker-client.js';

/** Text renderings for the `eb` CLI: readable tables and lines, not documents. */

const siteOf = (session: Session): string => /site (\S+)/.exec(session.meta.description ?? '')?.[1] ?? '?';
const startOf = (session: Session): string => String(session.schedule?.available?.start ?? session.executable?.schedule?.available?.start ?? '').split('/')[0] ?? '';
const durationOf = (session: Session): string => String(session.schedule?.available?.duration ?? '');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function formatOfferTable(offers: OfferSet): string {
  const lines = [`offer set ${offers.meta.uuid}: ${offers.result}`];
  const list = offers.offers ?? [];
  if (list.length) {
    lines.push(table([
      ['#', 'SESSION', 'SITE', 'START', 'DURATION', 'CORES', 'MEMORY GiB', 'EXPIRES'],
      ...list.map((offer, index) => [
        String(index + 1), offer.meta.uuid, siteOf(offer), startOf(offer), durationOf(offer),
        String(offer.compute?.cores?.min ?? ''), String(offer.compute?.memory?.min ?? ''), String(offer.expires ?? ''),
      ]),
    ]));
  }
  for (const message of offers.meta.messages ?? []) lines.push(`  ${message.level ?? 'INFO'}: ${message.message ?? ''}`);
  return `${lines.join('\n')}\n`;
}

export function formatSession(session: Session): string {
  const lines = [
    `session ${session.meta.uuid}: ${session.phase}`,
    `  site      ${siteOf(session)}`,
    `  start     ${startOf(session)}`,
    `  duration  ${durationOf(session)}`,
  ];
  if (session.expires && session.phase === 'OFFERED') lines.push(`  expires   ${String(session.expires)}`);
  for (const connector of (session.connectors ?? []) as Array<Record<string, unknown>>) {
    lines.push(`  connector ${String(connector.kind ?? '')} ${String(connector.status ?? '')} ${String(connector.location ?? '')}`);
  }
  for (const message of session.meta.messages ?? []) lines.push(`  ${message.level ?? 'INFO'}: ${message.message ?? ''}`);
  return `${lines.join('\n')}\n`;
}

export function progressLine(session: Session, elapsedMs: number): string {
  const last = session.meta.messages?.at(-1)?.message;
  return `[${(elapsedMs / 1000).toFixed(1).padStart(6)} s] ${session.meta.uuid.slice(0, 8)} ${session.phase.padEnd(10)}${last ? ` ${last}` : ''}`;
}
