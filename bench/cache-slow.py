#!/usr/bin/env python3
"""bench/cache-slow.py: the slow backend of bench/cache's collapsing test.

    cache-slow.py PORT DELAY LOG

Answers every GET, after DELAY seconds, with 200 and a 1 KiB body that
may be cached for an hour (Cache-Control: max-age=3600), one thread per
connection, keep-alive (HTTP/1.1). Every request's path is appended to
LOG as it arrives, one a line, so that bench/cache counts how many
requests for a key reached the backend.
"""
import http.server
import sys
import threading
import time

PORT, DELAY, LOG = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
BODY = b"s" * 1024
lock = threading.Lock()
log = open(LOG, "a", buffering=1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with lock:
            log.write(self.path + "\n")
        if self.path != "/ready":
            time.sleep(DELAY)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


Server(("127.0.0.1", PORT), Handler).serve_forever()
