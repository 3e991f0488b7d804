/**
 * The shared host (`mai host`, started by the first `mai serve`/CLI call that finds none): one Mai
 * for a user and a config, serving every client that connects to its Unix socket with
 * serveStreams — one connection, one client session, one framing, over the same Mai. It exits
 * after `host.idleExitMs` without clients (0: as soon as the last one leaves), never before its
 * first client came (at most FIRST_CLIENT_MS). Its stderr is its log (the starter points it at a file
 * in the state folder).
 */
import { renameSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { FindConfigOptions } from '../../core/config/find.ts';
import type { Logger } from '../../core/log.ts';
import type { Mai } from '../../core/mai.ts';
import { errorResponse, protocolErrorObject, RpcCodes } from '../error-codes.ts';
import { serveStreams, type ServerFace } from '../serve-streams.ts';
import { maiVersion } from '../version.ts';
import { checkSocket, ensurePrivateDir, hostAddress, privateSocket, type HostAddress } from './address.ts';
import { buildOnDisk, runningBuild } from './build.ts';
import { probeHost } from './connect.ts';
import { hostReload, type Reload } from './reload.ts';
import { afterPendingIO, readOpening } from './opening.ts';
import { openClientSession } from './session.ts';
import { helloLine, type ClientHello, type Face } from './wire.ts';

/** How long a host waits for its first client, whatever host.idleExitMs says (the starter's own wait for the socket is 60 s). */
const FIRST_CLIENT_MS = 60_000;

export interface HostOptions {
  find: FindConfigOptions;
  log: Logger;
  /** Builds Mai (the CLI's openMai). */
  open(): Promise<Mai>;
}

export async function runHost(options: HostOptions): Promise<number> {
  const { log } = options;
  let address = hostAddress(options.find);
  ensurePrivateDir(address.socketDir);
  const mai = await options.open(); // a broken config fails here: exit code 2 and its message in the log
  const reload = hostReload({ mai, find: options.find, log, address: () => address, moved: (next) => (address = next), listens: () => !retired });
  const faces = new Map<Face, ServerFace | undefined>([['mai', undefined]]);
  const faceOf = async (face: Face) => {
    if (!faces.has(face)) faces.set(face, (await import('../mcp/server.ts')).mcpFace);
    return faces.get(face);
  };
  const sockets = new Set<Socket>();
  let idle: NodeJS.Timeout | undefined;
  let stopping = false;
  /** Set once the host left its socket to a new host (its build was replaced on disk): it serves its clients to their end. */
  let retired = false;
  const server = createServer({ allowHalfOpen: true });
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`the host stops: ${why}`);
    server.close();
    if (!retired) removeSocket(address, log); // a retired host's socket name is its successor's now
    for (const socket of sockets) socket.destroy();
    await Promise.race([mai.close(), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]).catch((error: unknown) => log.debug('closing Mai failed', error));
    done(0);
  };
  /** Whether a client has come yet: until one has, the host waits at least FIRST_CLIENT_MS. */
  let served = false;
  const idleCheck = () => {
    clearTimeout(idle);
    if (sockets.size > 0 || stopping) return;
    const ms = mai.config.config.host.idleExitMs;
    // The client that started the host connects once the socket is there (ms later, seconds on a
    // loaded machine): a short idle time (0: exit as soon as the last client leaves) must not end
    // the host before it came. A host nobody ever reaches still goes, after FIRST_CLIENT_MS.
    if (retired) return void stop('its last client left, and a newer build serves new clients');
    const wait = served ? ms : Math.max(ms, FIRST_CLIENT_MS);
    const why = served ? `no client for ${ms} ms (host.idleExitMs)` : `no client came within ${wait} ms of its start`;
    // Judged after the I/O already due is handled: a client whose connection waits to be accepted
    // (the loop was busy as the time ran out) is a client, and keeps the host.
    idle = setTimeout(() => afterPendingIO(() => {
        if (sockets.size === 0) void stop(why);
      }), wait);
  };
  /**
   * A client of another build came and the build on disk is no longer this host's: the chunks this
   * host may still load lazily may be gone. It stops listening and frees its socket's name (the
   * client then starts a host of the new build there), serves the clients it has until they leave,
   * then exits. Returns why, or null when this host is still the build on disk (it serves the client).
   */
  const retire = (clientBuild: string): string | null => {
    const onDisk = buildOnDisk();
    if (!runningBuild || !onDisk || onDisk === runningBuild) return null;
    const why = `this host runs build ${runningBuild}, and build ${onDisk} replaced it on disk (a client of build ${clientBuild} came)`;
    if (!retired) {
      retired = true;
      log.info(`the host leaves its socket to a new host: ${why}; it serves its ${sockets.size - 1} other client(s) until they leave`);
      server.close();
      removeSocket(address, log);
    }
    return why;
  };
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (done = resolve));

  server.on('connection', (socket) => {
    sockets.add(socket);
    served = true;
    clearTimeout(idle);
    socket.on('close', () => {
      sockets.delete(socket);
      idleCheck();
    });
    socket.on('error', (error) => log.debug('a client socket failed', error));
    void greet(socket, mai, log, faceOf, reload, retire);
  });
  await listen(server, address, log);
  log.info(`Mai ${maiVersion()} host pid ${process.pid} serves ${address.configFile} on ${address.socket}`);
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('uncaughtException', (error) => log.error('uncaught exception (the host keeps running)', error.stack ?? error));
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection (the host keeps running)', reason));
  idleCheck();
  return finished;
}

/** Listens on the socket; a stale socket file (its host dead) is removed first, a live one means another host won. */
async function listen(server: Server, address: HostAddress, log: Logger): Promise<void> {
  if (checkSocket(address.socket)) {
    if (await probeHost(address.socket)) throw new Error(`another host already serves ${address.socket}`);
    log.info(`removing the stale socket ${address.socket} (its host is gone)`);
    removeSocket(address, log);
  }
  // Listened on a private name, made 0600, then renamed into place: no client ever sees it open to others.
  const making = `${address.socket}.${process.pid}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(making, () => {
      server.off('error', reject);
      resolve();
    });
  });
  privateSocket(making);
  renameSync(making, address.socket);
}

function removeSocket(address: HostAddress, log: Logger): void {
  try {
    unlinkSync(address.socket);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`could not remove ${address.socket}`, error);
  }
}

/** The host's side of the hello: yes, or why not, with this host's version, pid and build. */
function hostHello(answer: { ok: true } | { ok: false; error: string; retired?: true }): string {
  return helloLine({ ...answer, version: maiVersion(), pid: process.pid, ...(runningBuild ? { build: runningBuild } : {}) });
}

/** Reads how the connection opens (a hello, or JSON-RPC at once), then serves it or says why not. */
async function greet(
  socket: Socket,
  mai: Mai,
  log: Logger,
  faceOf: (face: Face) => Promise<ServerFace | undefined>,
  reload: Reload,
  retire: (clientBuild: string) => string | null,
): Promise<void> {
  const opening = await readOpening(socket, mai.config.config.host.helloTimeoutMs);
  if (opening.kind === 'refused') {
    log.info(`refused a connection: ${opening.why}`);
    if (opening.asHello) {
      socket.end(hostHello({ ok: false, error: `${opening.why} (this host is Mai ${maiVersion()})` }));
      return;
    }
    const message = `This is Mai's host socket; the connection was refused: ${opening.why}. Connect with \`mai serve\` (it forwards stdio here).`;
    socket.end(`${JSON.stringify(errorResponse(null, protocolErrorObject(RpcCodes.parseError, message)))}\n`);
    return;
  }
  const hello = opening.kind === 'hello' ? opening.hello : undefined;
  if (hello && hello.version !== maiVersion()) {
    log.info(`refused a client of Mai ${hello.version}`);
    socket.end(hostHello({ ok: false, error: `this host is Mai ${maiVersion()}, the client Mai ${hello.version}` }));
    return;
  }
  // A client of another build: if the build on disk is still this host's, the client is the older
  // one (it forwards bytes, which any build of this version reads alike) and is served.
  const left = hello?.build !== undefined && hello.build !== runningBuild ? retire(hello.build) : null;
  if (left) {
    socket.end(hostHello({ ok: false, error: left, retired: true }));
    return;
  }
  // The face is loaded before the hello says yes (MCP's on its first client): a host that cannot
  // load it (its files changed under it) refuses, and the client answers in its own process.
  let face: ServerFace | undefined;
  try {
    face = await faceOf(hello?.face ?? 'mai');
  } catch (error) {
    const why = `this host cannot load its ${hello?.face ?? 'mai'} server: ${(error as Error).message}`;
    log.error(why);
    socket.end(hello ? hostHello({ ok: false, error: why }) : '');
    return;
  }
  if (hello) socket.write(hostHello({ ok: true }));
  const client = { name: hello?.name ?? 'a direct JSON-RPC client', ...(hello?.clientInfo ? { clientInfo: hello.clientInfo } : {}) };
  await serveClient(socket, opening.rest, mai, log, face, client, reload);
}

/** One client: its session on Mai, serveStreams on its socket; a client gone mid-stream cancels its own turns. */
async function serveClient(
  socket: Socket,
  rest: Buffer,
  mai: Mai,
  log: Logger,
  face: ServerFace | undefined,
  { name, clientInfo }: { name: string; clientInfo?: ClientHello['clientInfo'] },
  reload: Reload,
): Promise<void> {
  const session = openClientSession(mai, name, { reload });
  if (clientInfo) session.describe({ clientInfo });
  const clientLog = log.child(session.id);
  log.info(`client ${session.id} (${name}) connected`);
  // The end of the connection is the client gone: the forwarder ends its side only once every
  // reply it awaits has come, so whatever is still in flight here has nobody to go to.
  const gone = new Promise<string>((resolve) => {
    socket.once('end', () => resolve('its connection ended'));
    socket.once('close', () => resolve('its connection closed'));
  });
  if (rest.length > 0) socket.unshift(rest);
  const served = serveStreams({
    input: socket,
    output: socket,
    mai: session.mai,
    log: clientLog,
    gone,
    onInitialize: (params) => session.describe(params),
    ...(face ? { face } : {}),
  });
  socket.resume();
  const outcome = await served;
  log.info(`client ${session.id} (${session.name}) finished (${outcome.reason})`);
  session.detach();
  socket.end();
}
