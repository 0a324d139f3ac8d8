"""Webhook endpoint for the SDK tests: stores every delivery's exact body and
Stripe-Signature header in a folder (N.body, N.sig) and answers 200. Stdlib only.

Usage: webhook_sink.py DIR  (writes the bound port to DIR/port, serves until killed)
"""

import http.server
import itertools
import os
import sys
import threading

DIR = sys.argv[1]
COUNTER = itertools.count()
LOCK = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sig = self.headers.get("Stripe-Signature", "")
        with LOCK:
            n = next(COUNTER)
        # Written under temporary names, then renamed: readers never see half a file.
        for ext, data in (("sig", sig.encode()), ("body", body)):
            tmp = os.path.join(DIR, f".{n}.{ext}")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(DIR, f"{n}.{ext}"))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
with open(os.path.join(DIR, ".port"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(DIR, ".port"), os.path.join(DIR, "port"))
server.serve_forever()
