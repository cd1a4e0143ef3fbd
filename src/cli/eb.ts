#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BrokerClient, BrokerClientError, formatOf, type OfferSet, type Session } from '../client/broker-client.js';
import { decodeBody, encodeBody, type Format } from '../protocol/codecs/body-codec.js';
import { formatOfferTable, formatSession, progressLine } from './render.js';

/** How `eb watch` and `eb run` end: the exit code says how the session ended. */
export const EXIT = { completed: 0, error: 1, usage: 2, failed: 3, cancelled: 4, other: 5 } as const;

const HELP: Record<string, string> = {
  main: `eb: the ExecutionBroker's command-line client

Usage: eb [options] <command> [arguments]

Commands:
  request FILE              ask for offers (FILE: JSON, XML or YAML; - reads stdin) and list them
  accept SESSION            accept an offer
  reject SESSION            reject an offer
  cancel SESSION            cancel a session
  status SESSION            show a session
  watch SESSION             follow a session to its end with a progress line
  logs SESSION [--follow]   print the session's log (--follow: as it grows, until the end)
  run FILE                  request, accept the best offer, follow it to its end, print its log

Options (before or after the command):
  --url URL                 the broker (default: $EB_URL or http://127.0.0.1:8080)
  --token-file FILE         read a bearer token from FILE (default: $EB_TOKEN_FILE, or $EB_TOKEN)
  --output text|json|yaml|xml  how to print documents (default: text)
  --notify URL|mailto:ADDR  (request, run; repeatable) be told of the sessions' phase changes by a
                            signed webhook or by mail; a webhook's secret is printed once, on stderr
  -h, --help                this help, or a command's: eb <command> --help

Exit codes: 0 done (COMPLETED for watch/run), 1 error, 2 usage, 3 FAILED, 4 CANCELLED,
5 another end (EXPIRED, REJECTED).`,
  request: 'eb request FILE [--notify URL|mailto:ADDR]...\n  Sends FILE (JSON, XML or YAML, by extension or content; - for stdin) to POST /requests and lists the offers.\n  --notify subscribes a webhook or a mail address to the sessions\' phase changes (docs/notifications.md).',
  accept: 'eb accept SESSION\n  Accepts the offer SESSION (its uuid).',
  reject: 'eb reject SESSION\n  Rejects the offer SESSION.',
  cancel: 'eb cancel SESSION\n  Cancels SESSION, stopping its run and releasing its capacity.',
  status: 'eb status SESSION\n  Shows the session: phase, site, schedule, connectors, messages.',
  watch: 'eb watch SESSION\n  Follows SESSION until it ends. Exit code: 0 COMPLETED, 3 FAILED, 4 CANCELLED, 5 other.',
  logs: 'eb logs SESSION [--follow]\n  Prints the log; --follow streams it until the session ends.',
  run: 'eb run FILE\n  Requests offers for FILE, accepts the best, follows it to its end and prints its log.\n  Exit code: 0 COMPLETED, 3 FAILED, 4 CANCELLED, 5 other.',
};

interface Io { out: (text: string) => void; err: (text: string) => void; isTTY: boolean; stdin: () => string }

export async function main(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, 'token-file': { type: 'string' }, output: { type: 'string', default: 'text' },
        follow: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
        notify: { type: 'string', multiple: true },
      },
    });
  } catch (error) {
    io.err(`eb: ${(error as Error).message}\n${HELP.main}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, argument] = positionals;
  if (values.help) {
    io.out(`${HELP[command ?? 'main'] ?? HELP.main}\n`);
    return 0;
  }
  if (!command) {
    io.err(`${HELP.main}\n`);
    return EXIT.usage;
  }
  if (!HELP[command] || command === 'main') {
    io.err(`eb: unknown command ${command}\n${HELP.main}\n`);
    return EXIT.usage;
  }
  if (!argument) {
    io.err(`eb: ${command} needs an argument\n${HELP[command]}\n`);
    return EXIT.usage;
  }
  const output = values.output as string;
  if (!['text', 'json', 'yaml', 'xml'].includes(output)) {
    io.err(`eb: --output must be text, json, yaml or xml, not ${output}\n`);
    return EXIT.usage;
  }
  let token: string | undefined;
  try {
    token = readToken(values['token-file'], env);
  } catch (error) {
    io.err(`eb: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  const client = new BrokerClient({ baseUrl: values.url ?? env.EB_URL ?? 'http://127.0.0.1:8080', ...(token ? { token } : {}) });
  const print = (value: unknown, type: 'OfferSetResponse' | 'AbstractExecutionSession', text: string): void => {
    io.out(output === 'text' ? text : encodeBody(value, output as Format, type).replace(/\n?$/, '\n'));
  };
  try {
    switch (command) {
      case 'request': {
        const offers = await requestWithNotify(client, readRequest(argument, io), values.notify, io);
        print(offers, 'OfferSetResponse', formatOfferTable(offers));
        return offers.result === 'YES' ? 0 : EXIT.other;
      }
      case 'accept': case 'reject': case 'cancel': {
        const phase = ({ accept: 'ACCEPTED', reject: 'REJECTED', cancel: 'CANCELLED' } as const)[command];
        const session = await client.setPhase(argument, phase);
        print(session, 'AbstractExecutionSession', `${session.meta.uuid} ${session.phase}\n`);
        return 0;
      }
      case 'status': {
        const session = await client.getSession(argument);
        print(session, 'AbstractExecutionSession', formatSession(session));
        return 0;
      }
      case 'watch': {
        const session = await client.watch(argument, progress(io));
        if (io.isTTY) io.err('\n');
        print(session, 'AbstractExecutionSession', formatSession(session));
        return endCode(session);
      }
      case 'logs': {
        if (values.follow) {
          for await (const text of client.followLogs(argument)) io.out(text);
        } else {
          io.out(await client.logs(argument));
        }
        return 0;
      }
      case 'run': {
        const offers: OfferSet = await requestWithNotify(client, readRequest(argument, io), values.notify, io);
        const best = offers.offers?.[0];
        if (offers.result !== 'YES' || !best) {
          print(offers, 'OfferSetResponse', formatOfferTable(offers));
          return EXIT.other;
        }
        io.err(`eb: accepting ${best.meta.uuid} (${best.meta.description ?? 'best offer'})\n`);
        await client.setPhase(best.meta.uuid, 'ACCEPTED');
        const session = await client.watch(best.meta.uuid, progress(io));
        if (io.isTTY) io.err('\n');
        print(session, 'AbstractExecutionSession', formatSession(session));
        const log = await client.logs(best.meta.uuid);
        if (output === 'text' && log) io.out(`--- log ---\n${log}${log.endsWith('\n') ? '' : '\n'}`);
        return endCode(session);
      }
    }
  } catch (error) {
    io.err(`eb: ${error instanceof BrokerClientError || error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.error;
  }
  return EXIT.usage;
}

/**
 * Sends a request, with the --notify targets added to its `srcnet.notify` extension (sent as
 * JSON then); a webhook's signing secret is printed on stderr, the only time it is shown.
 */
async function requestWithNotify(client: BrokerClient, [text, format]: [string, Format], notify: string[] | undefined, io: Io): Promise<OfferSet> {
  let body: string = text;
  let sent: Format = format;
  if (notify?.length) {
    const doc = decodeBody(Buffer.from(text), format, 'ExecutionRequest') as Record<string, unknown>;
    const given = doc['srcnet.notify'];
    doc['srcnet.notify'] = [...(Array.isArray(given) ? given : given === undefined ? [] : [given]), ...notify];
    body = JSON.stringify(doc);
    sent = 'json';
  }
  const { offers, webhookSecret } = await client.requestOffersWithSecret(body, sent);
  if (webhookSecret) io.err(`eb: webhook signing secret (shown once; keep it to verify the webhook-signature header): ${webhookSecret}\n`);
  return offers;
}

function readToken(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const path = file ?? env.EB_TOKEN_FILE;
  if (path) {
    const token = readFileSync(path, 'utf8').trim();
    if (!token) throw new Error(`the token file ${path} is empty`);
    return token;
  }
  return env.EB_TOKEN?.trim() || undefined;
}

function readRequest(path: string, io: Io): [string, Format] {
  const text = path === '-' ? io.stdin() : readFileSync(path, 'utf8');
  return [text, formatOf(path, text)];
}

/** A live progress line on a terminal, one line per phase otherwise (logs, CI). */
function progress(io: Io): (session: Session) => void {
  const started = Date.now();
  return (session) => {
    const line = progressLine(session, Date.now() - started);
    if (io.isTTY) io.err(`\r\x1b[2K${line}`);
    else io.err(`${line}\n`);
  };
}

function endCode(session: Session): number {
  switch (session.phase) {
    case 'COMPLETED': return EXIT.completed;
    case 'FAILED': return EXIT.failed;
    case 'CANCELLED': return EXIT.cancelled;
    default: return EXIT.other;
  }
}

// Run when executed (not when imported by a test).
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/eb') || process.argv[1]?.endsWith('/eb.js')) {
  const io: Io = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stderr.isTTY),
    stdin: () => readFileSync(0, 'utf8'),
  };
  main(process.argv.slice(2), process.env, io).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`eb: ${String(error)}\n`);
    process.exitCode = EXIT.error;
  });
}
