import net from 'node:net';

// Unit tests must not reach any server, not even loopback: that is what integration tests are for.
function refuse(...args: unknown[]): never {
  const target = JSON.stringify(args[0]);
  throw new Error(
    `Unit tests may not open network connections (tried ${target}). Move this test to test/integration/.`,
  );
}
net.Socket.prototype.connect = refuse;
