#!/usr/bin/python3
"""A stand-in APNs on 127.0.0.1: HTTP/2 only (Debian's python3-h2), TLS requiring a client
certificate issued by --client-ca (a root or an intermediate), answering POST /3/device/<token> by the token's prefix:

  dead...  410 {"reason":"Unregistered"}
  bad...   400 {"reason":"BadDeviceToken"}
  429...   429 {"reason":"TooManyRequests"} the first two times, then 200
  503...   503 {"reason":"ServiceUnavailable"} always
  403...   403 {"reason":"BadCertificate"}
  413...   413 {"reason":"PayloadTooLarge"}
  else     200

Writes its port to --port-file once listening. With --log, one JSON line per request (connection
number, ALPN protocol, client certificate subject, method, path, headers, body, status); without,
it only counts. On SIGTERM it writes {"connections","requests","statuses"} to --stats and exits.
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

RULES = [("dead", 410, "Unregistered"), ("bad", 400, "BadDeviceToken"), ("429", 429, "TooManyRequests"),
         ("503", 503, "ServiceUnavailable"), ("403", 403, "BadCertificate"), ("413", 413, "PayloadTooLarge")]


class State:
    def __init__(self, log):
        self.log = log
        self.connections = 0
        self.requests = 0
        self.statuses = collections.Counter()
        self.seen = collections.Counter()  # requests per token


def answer(state, path):
    token = path.rsplit("/", 1)[-1]
    state.seen[token] += 1
    if not path.startswith("/3/device/"):
        return 404, "BadPath"
    for prefix, status, reason in RULES:
        if token.startswith(prefix):
            if prefix == "429" and state.seen[token] > 2:
                break
            return status, reason
    return 200, None


class Apns(asyncio.Protocol):
    def __init__(self, state):
        self.state = state
        self.streams = {}

    def connection_made(self, transport):
        self.state.connections += 1
        self.number = self.state.connections
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        self.protocol = ssl_object.selected_alpn_protocol() if ssl_object else "h2c"
        cert = ssl_object.getpeercert() if ssl_object else None
        self.subject = dict(x[0] for x in cert["subject"]) if cert else {}
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8", validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False))
        self.conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except Exception:  # a broken client: drop it
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = [dict(event.headers), bytearray()]
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id][1] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.respond(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.streams.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
        self.transport.write(self.conn.data_to_send())

    def respond(self, stream_id):
        headers, body = self.streams.pop(stream_id)
        status, reason = answer(self.state, headers.get(":path", ""))
        self.state.requests += 1
        self.state.statuses[status] += 1
        if self.state.log:
            self.state.log.write(json.dumps({
                "connection": self.number, "protocol": self.protocol, "client": self.subject,
                "method": headers.get(":method"), "path": headers.get(":path"),
                "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
                "body": body.decode("utf-8", "replace"), "status": status}) + "\n")
            self.state.log.flush()
        payload = json.dumps({"reason": reason}).encode() if reason else b""
        response = [(":status", str(status)), ("apns-id", "00000000-0000-0000-0000-%012d" % stream_id)]
        if payload:
            response += [("content-type", "application/json"), ("content-length", str(len(payload)))]
        self.conn.send_headers(stream_id, response, end_stream=not payload)
        if payload:
            self.conn.send_data(stream_id, payload, end_stream=True)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--stats")
    args = ap.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # --client-ca may be an intermediate (Apple's WWDR)
    ctx.set_alpn_protocols(["h2"])
    state = State(open(args.log, "a") if args.log else None)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Apns(state), "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(args.port_file + ".tmp", args.port_file)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    await done.wait()
    if args.stats:
        with open(args.stats, "w") as f:
            json.dump({"connections": state.connections, "requests": state.requests,
                       "statuses": {str(k): v for k, v in state.statuses.items()}}, f)
    sys.exit(0)


if __name__ == "__main__":
    asyncio.run(main())
