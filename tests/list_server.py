"""A server of access lists on 127.0.0.1 for the tests of allow-url and
deny-url (tests/ and bindings/python/tests): lists from memory by path,
with an ETag and If-None-Match (304), a status to answer instead while
one is set, and the requests it got."""
import hashlib
import http.server
import threading


class ListServer:
    """Serves lists from memory, with an ETag and If-None-Match (304), and
    a status to answer instead (500) while one is set."""

    def __init__(self):
        self.lists = {}
        self.status = None
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append((self.path, dict(self.headers)))
                body = owner.lists.get(self.path)
                if owner.status is not None or body is None:
                    self.send_error(owner.status or 404)
                    return
                data = body.encode()
                etag = '"%s"' % hashlib.sha1(data).hexdigest()
                if self.headers.get('If-None-Match') == etag:
                    self.send_response(304)
                    self.send_header('ETag', etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(data)))
                self.send_header('ETag', etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f'http://127.0.0.1:{self.port}{path}'

    def gets(self, path):
        return sum(1 for p, _ in self.requests if p == path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
