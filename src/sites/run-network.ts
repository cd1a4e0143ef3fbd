import { existsSync, realpathSync } from 'node:fs';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublishedPort } from '../broker/executor.js';

/**
 * A sandboxed run with `network: egress` gets a network namespace of its own, joined to the
 * outside by slirp4netns (user-mode NAT, as rootless podman does): it reaches what the host
 * reaches beyond itself, and never the host's loopback, where Redis and the broker listen. Its
 * published ports are forwarded into it by slirp4netns. Nothing here runs as root: the namespace
 * is made, and slirp4netns runs, as the run's uid.
 *
 * How a run starts (the wrapper in local-process-executor.ts): `unshare` makes the user and
 * network namespaces and writes its pid (the namespaces' holder, which becomes bwrap) to a file;
 * bwrap makes the rest of the sandbox inside and waits on a FIFO before it starts the program;
 * the wrapper starts slirp4netns in the holder's namespaces, waits until it is ready, asks it to
 * forward the run's ports, and only then lets bwrap go on. If any of that fails the run is ended
 * before its program starts, and the reason is kept for the session's outcome.
 */

export const UNSHARE = '/usr/bin/unshare';
export const SLIRP4NETNS = '/usr/bin/slirp4netns';

/** The descriptors bwrap blocks on (`--block-fd`) and the holder writes its pid to. */
export const NETWORK_BLOCK_FD = 5;
export const NETWORK_HOLDER_FD = 6;

/** In the session's directory (which the run does not see). */
const HOLDER_FILE = 'net-holder';
const GO_FIFO = 'net-go';
/** slirp4netns's exit descriptor reads this FIFO, which only the wrapper holds open for writing: it ends when the wrapper does. */
const EXIT_FIFO = 'net-exit';
const READY_FILE = 'net-ready';
const LOG_FILE = 'net-log';
export const NETWORK_FAILED_FILE = 'net-failed';
/** slirp4netns's API socket, in a directory of the run's uid that only it may enter (the run does not see it either). */
const API_DIR = 'net';

/** slirp4netns's DNS forwarder, as the run sees it (slirp4netns --configure). */
export const RUN_DNS = '10.0.2.3';
/** The run's own resolv.conf, pointing at slirp4netns's forwarder: the host's may name a loopback resolver (systemd-resolved's 127.0.0.53) the run cannot reach. */
const RESOLV_FILE = 'resolv.conf';

/** Makes the run's user and network namespaces, the run's uid mapped to root in them (slirp4netns needs that to join them). */
export const NETWORK_NAMESPACES = [UNSHARE, '--user', '--net', '--map-root-user', '--'];

/**
 * The command that makes the run's user and network namespaces before bwrap: a shell in them
 * writes its pid on the holder descriptor, closes it, and becomes bwrap (`exec`), so that the pid
 * stays the namespaces' holder for as long as the run lives.
 */
export function holderCommand(): string[] {
  return [...NETWORK_NAMESPACES, '/bin/sh', '-c', `echo $$ >&${NETWORK_HOLDER_FD}; exec ${NETWORK_HOLDER_FD}>&-; exec "$@"`, 'eb-net'];
}

/** Where the run's resolv.conf goes: over the host's, or over the file it links to (which may be under /run, the sandbox's own tmpfs). */
export function resolvTarget(): string {
  try {
    return realpathSync('/etc/resolv.conf');
  } catch {
    return '/etc/resolv.conf';
  }
}

/**
 * bwrap options for a run with its own network: wait for the wrapper, resolve names through
 * slirp4netns, and be the run's uid again (the holder's namespace maps it to root, which
 * slirp4netns needs to join it: the run itself stays unprivileged in a namespace nested in it).
 */
export const networkOptions = (dir: string, uid: number, gid: number): string[] => [
  '--uid', String(uid), '--gid', String(gid), '--block-fd', String(NETWORK_BLOCK_FD),
  // A host without a resolv.conf has none to cover (bwrap could not make one in the read-only /etc).
  ...(existsSync('/etc/resolv.conf') ? ['--ro-bind', join(dir, RESOLV_FILE), resolvTarget()] : []),
];

/** Makes the run's resolv.conf and the directory of slirp4netns's API socket (the run's uid's alone). */
export async function prepareRunNetwork(dir: string, uid: number | undefined): Promise<void> {
  await writeFile(join(dir, RESOLV_FILE), `nameserver ${RUN_DNS}\n`, { mode: 0o644 });
  await mkdir(join(dir, API_DIR), { mode: 0o700, recursive: true });
  if (uid !== undefined) await chown(join(dir, API_DIR), uid, uid);
}

/** The redirections that give the sandbox's command its block and holder descriptors. */
export const networkDescriptors = (dir: string): string =>
  `${NETWORK_BLOCK_FD}<> "${join(dir, GO_FIFO)}" ${NETWORK_HOLDER_FD}> "${join(dir, HOLDER_FILE)}" `;

/** Quotes a word for sh. */
const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Asks slirp4netns, on its API socket, to forward each published port (host address and port) to
 * the same port in the run's namespace. Run by the wrapper with the worker's own Node.js; exits 1,
 * saying why, if slirp4netns refuses one. Written without a single quote: it goes in one.
 */
const FORWARD_PORTS = String.raw`const net = require("node:net");
const [socket, host, ...ports] = process.argv.slice(1);
const ask = (request) => new Promise((resolve, reject) => {
  const connection = net.connect(socket);
  let answer = "";
  const timer = setTimeout(() => { connection.destroy(); reject(new Error("slirp4netns did not answer")); }, 5000);
  connection.on("connect", () => connection.write(JSON.stringify(request)));
  connection.on("data", (chunk) => {
    answer += chunk;
    try { const parsed = JSON.parse(answer); clearTimeout(timer); connection.destroy(); resolve(parsed); } catch { /* not whole yet */ }
  });
  connection.on("error", (error) => { clearTimeout(timer); reject(error); });
});
(async () => {
  for (const port of ports) {
    const [proto, number] = port.split(":");
    const answer = await ask({ execute: "add_hostfwd", arguments: { proto, host_addr: host, host_port: Number(number), guest_port: Number(number) } });
    if (!answer || !answer.return) throw new Error("port " + number + "/" + proto + ": " + JSON.stringify(answer && answer.error ? answer.error : answer));
  }
})().catch((error) => { console.error("forwarding the run's ports: " + error.message); process.exit(1); });
`;

/**
 * What slirp4netns said that says why, without what it always says (its settings, its help) or
 * the port forwarder's own lines; or that the run's namespaces were never there to join.
 */
const SAY_WHY = (log: string): string =>
  `{ /bin/grep -v -E '^(\\*|Starting slirp|sent tapfd|received tapfd|apifd event|api_handler|WARNING: Support for seccomp|Usage:|User-mode|-|[[:space:]]|$)' ${log} 2>/dev/null | /usr/bin/head -c 300; `
  + `[ -s ${log} ] || echo "the run's network namespace was not there to join"; }`;

/** How long the wrapper waits for the namespaces' holder, and for slirp4netns, before it gives up (hundredths of a second). */
const WAIT_CENTISECONDS = 1000;

/**
 * The wrapper's part (its working directory the session's), once the sandbox's command is started in the background (its pid in
 * `$eb_run`): start slirp4netns for the run's namespaces (as `runAs`, the setpriv prefix when the
 * worker is root), forward the ports, then let bwrap go on. On failure, the reason goes in
 * net-failed and the run is killed before its program starts. Leaves slirp4netns's pid in `$eb_slirp`.
 */
export function startNetwork(dir: string, ports: readonly PublishedPort[], runAs: readonly string[], listenHost: string): string {
  const file = (name: string) => `"${join(dir, name)}"`;
  const waitFor = (test: string, alive: string) => `eb_i=0; while ! ${test} && [ $eb_i -lt ${WAIT_CENTISECONDS} ] && /bin/kill -s 0 -- ${alive} 2>/dev/null; do /bin/sleep 0.01; eb_i=$((eb_i+1)); done; `;
  // Relative to the wrapper's working directory, the session's: a socket's path has at most 107
  // bytes, which a deep scratch directory would leave no room for.
  const socket = `${API_DIR}/api.sock`;
  // In a session of its own, so that it is in neither of the run's process groups: when the
  // wrapper is ended (CANCEL), slirp4netns reads the end of its exit FIFO and ends too, and an
  // init slow to reap it does not keep the wrapper's group there.
  const slirp = ['/usr/bin/setsid', ...runAs, SLIRP4NETNS, '--configure', '--mtu=65520', '--disable-host-loopback', '--enable-seccomp',
    '--api-socket', socket, '--ready-fd', '7', '--exit-fd', '8'].map(quote).join(' ');
  // TCP only: a UDP port is refused before a run is made (LocalProcessExecutor.refusesPorts).
  const forwards = ports.map((port) => `tcp:${port.external}`);
  const forward = forwards.length
    ? `${quote(process.execPath)} -e ${quote(FORWARD_PORTS)} ${quote(socket)} ${quote(listenHost)} ${forwards.map(quote).join(' ')} 2>> ${file(LOG_FILE)}`
    : 'true';
  return `eb_slirp=; eb_net=; ${waitFor(`[ -s ${file(HOLDER_FILE)} ]`, '$eb_run')}eb_holder=$(/bin/cat ${file(HOLDER_FILE)} 2>/dev/null); `
    // Only a holder in a network namespace other than the wrapper's: never the host's own.
    + `if [ -n "$eb_holder" ] && [ "$(/bin/readlink /proc/$eb_holder/ns/net)" != "$(/bin/readlink /proc/$$/ns/net)" ]; then exec 9<> ${file(EXIT_FIFO)}; ${slirp} "--userns-path=/proc/$eb_holder/ns/user" --netns-type=path "/proc/$eb_holder/ns/net" tap0 7> ${file(READY_FILE)} 8< ${file(EXIT_FIFO)} 9>&- > ${file(LOG_FILE)} 2>&1 & eb_slirp=$!; `
    + `${waitFor(`[ -s ${file(READY_FILE)} ]`, '$eb_slirp')}if [ -s ${file(READY_FILE)} ] && ${forward}; then eb_net=up; fi; fi; `
    + `if [ "$eb_net" = up ]; then echo go 1<> ${file(GO_FIFO)}; else `
    + `{ echo "the run's network could not be set up (slirp4netns):"; ${SAY_WHY(file(LOG_FILE))}; } > ${file(NETWORK_FAILED_FILE)}; `
    // procps kill reads `-KILL -1234` as signal 9 to pid -1, every process: a group only after `--`.
    + '/bin/kill -s KILL -- -"$eb_run" 2>/dev/null; [ -n "$eb_slirp" ] && /bin/kill -s KILL -- "$eb_slirp" 2>/dev/null; fi; ';
}

/** What is left of the run's network once it has ended: the FIFOs and slirp4netns's API socket (no files to keep or to read). */
const networkLeftovers = (dir: string): string[] => [join(dir, GO_FIFO), join(dir, EXIT_FIFO), join(dir, API_DIR)];

/** The wrapper's part once the run has ended: slirp4netns goes with it, and its FIFOs and socket. */
export const stopNetwork = (dir: string): string =>
  `[ -n "$eb_slirp" ] && /bin/kill -s TERM -- "$eb_slirp" 2>/dev/null; /bin/rm -rf ${networkLeftovers(dir).map((path) => `"${path}"`).join(' ')}; `;

/** The same, from the worker, for a run it has ended (CANCEL): slirp4netns has ended with the wrapper. */
export async function removeRunNetwork(dir: string): Promise<void> {
  for (const path of networkLeftovers(dir)) await rm(path, { recursive: true, force: true });
}

/** Makes the FIFOs bwrap blocks on and slirp4netns ends by, before the sandbox's command starts. */
export const makeNetworkFifos = (dir: string): string => `/bin/rm -f "${join(dir, GO_FIFO)}" "${join(dir, EXIT_FIFO)}"; /usr/bin/mkfifo -m 600 "${join(dir, GO_FIFO)}" "${join(dir, EXIT_FIFO)}"; `;

/** Whether this host can give runs a network of their own: unshare and slirp4netns are installed, and the TUN device is there. */
export function runNetworkMissing(): string | undefined {
  for (const [program, pkg] of [[UNSHARE, 'util-linux'], [SLIRP4NETNS, 'slirp4netns']] as const) {
    if (!existsSync(program)) return `${program} is not installed (Debian: apt-get install ${pkg}), and runs with network: egress need it for a network of their own`;
  }
  // In a container, /dev/net/tun is given with the container's devices (docker run --device /dev/net/tun).
  if (!existsSync('/dev/net/tun')) return 'this host has no /dev/net/tun, which slirp4netns needs for a network of the run\'s own (network: egress)';
  return undefined;
}
