// libproxykit through GObject Introspection from GJS: a SOCKS server and a
// relay driven by the typelib alone, on loopback, everything in one main
// loop (the client side uses GIO's async calls).
//
//   GI_TYPELIB_PATH=build/libproxykit LD_LIBRARY_PATH=build/libproxykit \
//       gjs tests/test-gi-gjs.js
//
// Prints TAP; exits 77 (a skip for meson) where the typelib is missing.
const {GLib, Gio} = imports.gi;
const System = imports.system;

let Proxykit;
try {
    imports.gi.versions.Proxykit = '1';
    Proxykit = imports.gi.Proxykit;
} catch (e) {
    print(`1..0 # SKIP no Proxykit-1 typelib: ${e.message}`);
    System.exit(77);
}

Gio._promisify(Gio.SocketClient.prototype, 'connect_to_host_async', 'connect_to_host_finish');
Gio._promisify(Gio.InputStream.prototype, 'read_bytes_async', 'read_bytes_finish');
Gio._promisify(Gio.OutputStream.prototype, 'write_all_async', 'write_all_finish');
Gio._promisify(Proxykit.SocksServer.prototype, 'stop_async', 'stop_finish');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A TCP echo server on 127.0.0.1 in this main loop; returns [service, port].
function echoServer() {
    const service = new Gio.SocketService();
    const port = service.add_any_inet_port(null);
    service.connect('incoming', (_service, conn) => {
        const input = conn.get_input_stream();
        const output = conn.get_output_stream();
        const pump = () => {
            input.read_bytes_async(65536, GLib.PRIORITY_DEFAULT, null, (stream, res) => {
                const bytes = stream.read_bytes_finish(res);
                if (bytes.get_size() === 0) {
                    conn.close(null);
                    return;
                }
                output.write_all_async(bytes.toArray(), GLib.PRIORITY_DEFAULT, null, (out, r) => {
                    out.write_all_finish(r);
                    pump();
                });
            });
        };
        pump();
        return true;
    });
    service.start();
    return [service, port];
}

async function readExactly(input, n) {
    let got = new Uint8Array(0);
    while (got.length < n) {
        const bytes = await input.read_bytes_async(n - got.length, GLib.PRIORITY_DEFAULT, null);
        if (bytes.get_size() === 0)
            throw new Error(`EOF after ${got.length} of ${n} bytes`);
        const chunk = bytes.toArray();
        const joined = new Uint8Array(got.length + chunk.length);
        joined.set(got);
        joined.set(chunk, got.length);
        got = joined;
    }
    return got;
}

async function connect(port) {
    const client = new Gio.SocketClient({timeout: 20});
    return client.connect_to_host_async(`127.0.0.1:${port}`, 0, null);
}

async function echoThrough(conn, text) {
    const out = conn.get_output_stream();
    await out.write_all_async(encoder.encode(text), GLib.PRIORITY_DEFAULT, null);
    return decoder.decode(await readExactly(conn.get_input_stream(), text.length));
}

const tests = [];
function test(name, fn) {
    tests.push([name, fn]);
}

test('version', async () => {
    const v = Proxykit.get_version();
    const parts = [Proxykit.get_major_version(), Proxykit.get_minor_version(),
        Proxykit.get_micro_version()];
    if (v !== parts.join('.'))
        throw new Error(`get_version() ${v} != ${parts.join('.')}`);
});

test('socks-server', async () => {
    const [echo, echoPort] = echoServer();
    const server = Proxykit.SocksServer.new();
    server.set_name('gjs');
    server.listen('127.0.0.1:0');
    const port = server.get_port();
    if (port <= 0)
        throw new Error('no port');

    const conn = await connect(port);
    const out = conn.get_output_stream();
    const input = conn.get_input_stream();
    await out.write_all_async(new Uint8Array([5, 1, 0]), GLib.PRIORITY_DEFAULT, null);
    const method = await readExactly(input, 2);
    if (method[0] !== 5 || method[1] !== 0)
        throw new Error(`greeting reply ${method}`);
    await out.write_all_async(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 0xff]),
        GLib.PRIORITY_DEFAULT, null);
    const reply = await readExactly(input, 10);
    if (reply[1] !== 0)
        throw new Error(`CONNECT reply code ${reply[1]}`);
    const back = await echoThrough(conn, 'via gjs');
    if (back !== 'via gjs')
        throw new Error(`echo ${back}`);
    conn.close(null);

    await server.stop_async(1000, null);
    const stats = server.get_stats().deepUnpack();
    if (Number(stats['sessions-total']) !== 1 || Number(stats['result-succeeded']) !== 1)
        throw new Error(`stats ${JSON.stringify(stats)}`);
    echo.stop();
});

test('relay', async () => {
    const [echo, echoPort] = echoServer();
    const relay = Proxykit.Relay.new();
    const rule = Proxykit.RelayRule.new(Proxykit.RelayProtocol.TCP, 0, '127.0.0.1', echoPort);
    rule.set_name('gjs-echo');
    rule.set_listen_address('127.0.0.1');
    relay.add_rule(rule);
    const port = relay.get_local_port('gjs-echo');
    const conn = await connect(port);
    const back = await echoThrough(conn, 'relayed');
    if (back !== 'relayed')
        throw new Error(`echo ${back}`);
    conn.close(null);
    relay.stop();
    echo.stop();

    let threw = false;
    try {
        Proxykit.RelayRule.new_from_string('1;2;3');
    } catch (e) {
        threw = e instanceof GLib.Error;
    }
    if (!threw)
        throw new Error('a malformed rule raised no GLib.Error');
});

const loop = new GLib.MainLoop(null, false);
let failed = 0;
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 60, () => {
    print('Bail out! timed out');
    System.exit(1);
});
(async () => {
    print(`1..${tests.length}`);
    for (const [i, [name, fn]] of tests.entries()) {
        try {
            await fn();
            print(`ok ${i + 1} ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${i + 1} ${name}`);
            printerr(`${name}: ${e}\n${e.stack}`);
        }
    }
    loop.quit();
})();
loop.run();
System.exit(failed ? 1 : 0);
