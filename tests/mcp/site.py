"""The test site for e2e.py's multi-page flow, on ADDR PORT (standard
library only). Run inside the test's own network namespace: the sandbox
reaches it through hyped's bridge and nothing else does.

    site.py ADDR PORT

/login (form, POST sets the `session` cookie and redirects to /shop),
/shop (a <select>, a file input, a confirm(), console messages, a fetch of
/api/data), /second, /api/data.
"""

import http.server
import json
import sys
import urllib.parse

LOGIN = """<!doctype html><title>Log in</title><h1>Log in</h1>
<form method=post action=/login>
<label>User <input name=user></label>
<label>Password <input name=password type=password></label>
<label>Remember me <input name=remember type=checkbox></label>
<button>Log in</button></form>
<script>console.log('login page')</script>"""

SHOP = """<!doctype html><title>Shop</title><h1>Shop of {user}</h1>
<label>Colour <select id=colour onchange="picked.textContent='picked '+this.value">
<option>Red</option><option>Green</option><option>Blue</option></select></label>
<p id=picked>nothing picked</p>
<label>Receipt <input id=receipt type=file onchange="chosen.textContent='chosen '+this.files[0].name+' '+this.files[0].size"></label>
<p id=chosen>nothing chosen</p>
<button onclick="basket.textContent = confirm('Delete the basket?') ? 'basket deleted' : 'basket kept'">Delete basket</button>
<p id=basket>basket full</p>
<p id=api>api pending</p>
<script>
console.log('shop loaded for {user}');
console.warn('stock low');
fetch('/api/data').then(r => r.json()).then(d => api.textContent = 'api says ' + d.from);
</script>"""


class Site(http.server.BaseHTTPRequestHandler):
    def send(self, code, body, ctype="text/html", headers=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def user(self):
        for part in self.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "session":
                return v
        return None

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/login":
            self.send(200, LOGIN)
        elif path == "/shop":
            user = self.user()
            if not user:
                self.send(303, "", headers=[("Location", "/login")])
            else:
                self.send(200, SHOP.replace("{user}", user))
        elif path == "/second":
            self.send(200, "<!doctype html><title>Second</title><p>second page</p>")
        elif path == "/api/data":
            self.send(200, json.dumps({"from": "site"}), "application/json")
        else:
            self.send(404, "not here")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = urllib.parse.parse_qs(body)
        if self.path == "/login" and form.get("password") == ["secret"] and form.get("remember") == ["on"]:
            user = form.get("user", [""])[0]
            self.send(303, "", headers=[("Location", "/shop"), ("Set-Cookie", f"session={user}; Path=/")])
        else:
            self.send(401, "<!doctype html><title>Denied</title><p>wrong user or password</p>")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Site)
    print("serving", flush=True)
    server.serve_forever()
