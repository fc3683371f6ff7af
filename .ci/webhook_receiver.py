#!/usr/bin/env python3
"""A webhook receiver that checks Keepsake's signatures with Python's own hmac module.

    python3 .ci/webhook_receiver.py SECRET

Listens on 127.0.0.1 on a free port and prints `listening PORT` first; then, for each POST,
one JSON line: {"id", "timestamp", "valid", "body"}. It answers 204 to a valid signature
and 401 to anything else. tests/api/webhooks.rs runs it; it is also the docs' example, whole.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = base64.b64decode(sys.argv[1].removeprefix("whsec_"))


def valid(headers, body):
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        ok = valid(self.headers, body)
        print(json.dumps({"id": self.headers.get("webhook-id"),
                          "timestamp": self.headers.get("webhook-timestamp"),
                          "valid": ok, "body": json.loads(body)}), flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
