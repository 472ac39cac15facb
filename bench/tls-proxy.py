"""A TLS terminator in front of DynamoDB Local, for the benchmark's TLS mode.

    python3 bench/tls-proxy.py UPSTREAM_URL DIR

Makes a throwaway CA and a certificate for localhost signed by it (openssl) in DIR, writes
DIR/bundle.pem (the system's trust bundle plus that CA), listens on a free loopback port and
prints `https://localhost:PORT` on its first line of output; every connection is decrypted and
forwarded to UPSTREAM_URL (plain HTTP). Clients pointed at it with SSL_CERT_FILE / AWS_CA_BUNDLE =
DIR/bundle.pem pay a real TLS handshake and load a real root store, as on AWS.
"""

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import urllib.parse

SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certificates(folder):
    os.makedirs(folder, exist_ok=True)
    ca_key, ca_crt = f"{folder}/ca.key", f"{folder}/ca.crt"
    key, csr, crt = f"{folder}/server.key", f"{folder}/server.csr", f"{folder}/server.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=companies bench throwaway CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = f"{folder}/ext.cnf"
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    system = next((b for b in SYSTEM_BUNDLES if os.path.exists(b)), None)
    with open(f"{folder}/bundle.pem", "w") as out:
        if system:
            out.write(open(system).read().rstrip() + "\n")
        out.write(open(ca_crt).read())
    return crt, key


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    upstream, folder = sys.argv[1], sys.argv[2]
    target = urllib.parse.urlparse(upstream)
    crt, key = make_certificates(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(crt, key)

    async def serve(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            writer.close()
            return
        # Forward every write at once: with Nagle's algorithm on either leg, a small write
        # waits for the peer's delayed acknowledgement (tens of milliseconds per round trip),
        # a delay neither DynamoDB nor a real TLS terminator adds.
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(serve, sock=sock, ssl=context)
    print(f"https://localhost:{sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
