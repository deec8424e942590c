#!/usr/bin/python3
"""A real SMTP server for the mail tests and the load benchmark (Debian's python3-aiosmtpd).

Binds 127.0.0.1 on a free port, prints "PORT <n>" on stdout, and serves until stdin closes (so
it never outlives the test that started it). Each accepted message is saved as DIR/NNNNNN.eml
(the bytes as received) with DIR/NNNNNN.json (envelope, connection number, login, TLS); with
--discard messages are only counted (the load benchmark). Options: --auth USER:PASSWORD
(require AUTH), --tls CERT KEY (offer STARTTLS; --require-tls makes it mandatory),
--refuse ADDRESS (answer 550 to RCPT TO that address; repeatable), --drop-after-data ADDRESS
(close the connection instead of answering the end of that recipient's message).
"""
import argparse
import asyncio
import json
import logging
import os
import socket
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.refuse:
            return "550 5.1.1 <%s>: Recipient address rejected: no such mailbox" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if any(r in self.args.drop_after_data for r in envelope.rcpt_tos):
            server.transport.abort()
            return "421 dropped"
        if self.args.dir:
            base = os.path.join(self.args.dir, "%06d" % self.count)
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "connection": server.lk_connection,
                "login": session.auth_data.login.decode() if session.authenticated else None,
                "tls": server._tls_protocol is not None,
            }
            with open(base + ".json", "w") as f:
                json.dump(meta, f)
        return "250 2.0.0 OK queued as %d" % self.count


def main():
    warnings.simplefilter("ignore")  # AUTH without TLS is what some tests want
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    p = argparse.ArgumentParser()
    p.add_argument("--dir")
    p.add_argument("--discard", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--tls", nargs=2)
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--drop-after-data", action="append", default=[])
    args = p.parse_args()

    handler = Handler(args)
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls[0], args.tls[1])
    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

    connections = [0]

    def factory():
        connections[0] += 1
        smtp = SMTP(handler, hostname="sink.test", tls_context=tls, require_starttls=args.require_tls,
                    authenticator=authenticator, auth_required=bool(args.auth),
                    auth_require_tls=False, data_size_limit=10 << 20)
        smtp.lk_connection = connections[0]
        return smtp

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(loop.create_server(factory, sock=sock))
    print("PORT %d" % sock.getsockname()[1], flush=True)

    def on_stdin():
        if not os.read(sys.stdin.fileno(), 4096):
            loop.stop()

    try:
        loop.add_reader(sys.stdin.fileno(), on_stdin)
    except (OSError, ValueError, PermissionError):
        pass  # stdin is not a pipe: serve until killed
    loop.run_forever()


if __name__ == "__main__":
    main()
