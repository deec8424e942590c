#!/usr/bin/python3
"""A minimal SMTP responder for tests/bench/mail_load.sh: answers EHLO, MAIL, RCPT, DATA, RSET,
NOOP and QUIT, and reads each message up to the final "." line without parsing it. Not a mail
server; it only shows how fast the sender can go when the server costs next to nothing. Binds
127.0.0.1 on a free port and prints "PORT <n>"; one connection at a time."""
import socket

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print("PORT %d" % srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rb")
    conn.sendall(b"220 null ESMTP\r\n")
    in_data = False
    for line in f:
        if in_data:
            if line == b".\r\n":
                in_data = False
                conn.sendall(b"250 OK\r\n")
            continue
        verb = line[:4].upper()
        if verb == b"EHLO":
            conn.sendall(b"250-null\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            in_data = True
            conn.sendall(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            break
        else:
            conn.sendall(b"250 OK\r\n")
    conn.close()
