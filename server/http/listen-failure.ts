// Why the server could not listen on HOST:PORT. uWS's listen answers only "no socket", without the errno: the
// reason is asked of the OS again with Node's own listen on the same address (nothing else listens on it, so
// this second try fails the same way), and the message names what to change: the port when it is taken, HOST
// when that address cannot be bound or resolved.
import net from 'node:net';

export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`Port ${port} on ${host} is already in use (another Tixello Live server or another program). Stop it, or set PORT to a free port.`);
    this.name = 'PortInUseError';
  }
}

/** Listening failed for another reason than a taken port: `code` is the OS's (EADDRNOTAVAIL, ENOTFOUND, EACCES…) or null. */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

const HOST_HELP = 'Set HOST to an address of this machine: 0.0.0.0 (every IPv4 interface), :: (every interface) or 127.0.0.1 (this machine only).';

/** The error for a listen refused with the OS's `code` (null: the address could be bound when asked again). Pure. */
export function listenError(host: string, port: number, code: string | null): Error {
  switch (code) {
    case 'EADDRINUSE':
      return new PortInUseError(host, port);
    case 'EADDRNOTAVAIL':
      return new ListenError(host, port, code, `HOST=${host} is not an address of this machine, so nothing can listen on it (EADDRNOTAVAIL). ${HOST_HELP}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new ListenError(host, port, code, `HOST=${host} could not be resolved to an address (${code}). ${HOST_HELP}`);
    case 'EACCES':
    case 'EPERM':
      return new ListenError(host, port, code, `Port ${port} on ${host} needs privileges this user does not have (${code}). Set PORT to 1024 or above, or to 0 for any free port.`);
    case null:
      return new ListenError(host, port, null, `Could not listen on port ${port} on ${host}, though the address could be bound when checked again (the port may have been taken briefly). Start again, or set PORT to another port.`);
    default:
      return new ListenError(host, port, code, `Could not listen on port ${port} on ${host} (${code}). Check HOST and PORT.`);
  }
}

/** The OS's reason a listen on `host`:`port` fails (its error code), or null when it succeeds now. */
export function listenCode(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

/** The error to throw after uWS refused `host`:`port`. */
export async function explainListenFailure(host: string, port: number): Promise<Error> {
  return listenError(host, port, await listenCode(host, port));
}
