import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { explainListenFailure, ListenError, listenError, PortInUseError } from './listen-failure.js';

describe('why listening failed', () => {
  it('says "in use" only when the OS says the port is taken; an address HOST cannot bind or resolve names HOST', () => {
    expect(listenError('127.0.0.1', 8080, 'EADDRINUSE')).toBeInstanceOf(PortInUseError);
    const notHere = listenError('192.0.2.1', 0, 'EADDRNOTAVAIL');
    expect(notHere).toBeInstanceOf(ListenError);
    expect(notHere.message).toMatch(/^HOST=192\.0\.2\.1 is not an address of this machine.*Set HOST to/);
    expect(listenError('db.invalid', 0, 'ENOTFOUND').message).toMatch(/^HOST=db\.invalid could not be resolved to an address \(ENOTFOUND\)/);
    expect(listenError('0.0.0.0', 80, 'EACCES').message).toMatch(/Port 80 on 0\.0\.0\.0 needs privileges .*Set PORT to 1024 or above/);
    for (const code of ['EADDRNOTAVAIL', 'ENOTFOUND', 'EACCES', 'EINVAL', null]) expect(listenError('h', 1, code).message).not.toMatch(/in use/);
  });

  it('asks the OS again: a taken port is in use, an address of no interface here is not', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen({ host: '127.0.0.1', port: 0, exclusive: true }, r));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      expect(await explainListenFailure('127.0.0.1', port)).toBeInstanceOf(PortInUseError);
    } finally {
      await new Promise((r) => taken.close(r));
    }
    const e = await explainListenFailure('192.0.2.1', 0);
    expect(e).toBeInstanceOf(ListenError);
    expect((e as ListenError).code).toBe('EADDRNOTAVAIL');
  });
});
