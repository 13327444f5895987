"""Test harness for `modelseal fetch`: a CA with server and client certificates made with
openssl, signed model directories, a real nginx on 127.0.0.1 (a non-daemon child, stopped at
the end even on failure), and a small misbehaving HTTPS server for what nginx will not do."""

import contextlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("MODELSEAL_BUILD", "")
SOURCE = os.environ.get("MODELSEAL_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def tool(name):
    return os.path.join(BUILD, "tools", "modelseal-" + name)


def run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def must(args, **kw):
    r = run(args, **kw)
    if r.returncode != 0:
        raise Failure(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- certificates

def _key_and_csr(d, name, cn):
    must(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}"])


def _ca(d, name):
    must(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem", "-days", "2", "-subj", f"/CN={name}"])


def _issue(d, name, ca, ext):
    with open(f"{d}/{name}.ext", "w") as f:
        f.write(ext + "\n")
    must(["openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.pem", "-CAkey", f"{d}/{ca}.key",
          "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", f"{d}/{name}.ext"])


class Pki:
    """ca.pem signs server (127.0.0.1), client, and wrongname (a server cert for another
    host); other-ca.pem signs rogue (a server cert for 127.0.0.1 from an untrusted CA) and
    rogue-client."""

    def __init__(self, d):
        self.dir = d
        _ca(d, "ca")
        _ca(d, "other-ca")
        server_ext = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"
        for name, cn, ca, ext in [
            ("server", "127.0.0.1", "ca", server_ext),
            ("client", "inference-1", "ca", "extendedKeyUsage=clientAuth"),
            ("wrongname", "models.example.com", "ca", "subjectAltName=DNS:models.example.com"),
            ("rogue", "127.0.0.1", "other-ca", server_ext),
            ("rogue-client", "intruder", "other-ca", "extendedKeyUsage=clientAuth"),
        ]:
            _key_and_csr(d, name, cn)
            _issue(d, name, ca, ext)

    def path(self, name):
        return os.path.join(self.dir, name)


# ---- models

def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_model(d, files):
    for name, data in files.items():
        write_file(os.path.join(d, name), data)
    return d


def keygen(prefix):
    must([tool("keygen"), "--insecure-no-passphrase", "-o", prefix])
    return prefix + ".key", prefix + ".pub"


def sign(model, key, *extra):
    must([tool("sign"), model, "-k", key, *extra])


def tree(d):
    """{relative path: bytes} of every file under d."""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def leftovers(parent, name):
    return [e for e in os.listdir(parent) if e.startswith("." + name + ".fetch-")]


# ---- nginx

NGINX_CONF = """
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
  log_format fetch '$request_uri $status $body_bytes_sent';
  access_log {d}/access.log fetch;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {{
    listen 127.0.0.1:{port}{ssl};
    root {root};
    {tls}
  }}
}}
"""


class Nginx:
    """nginx serving `root` on 127.0.0.1 (HTTPS with `cert`, or plain HTTP with cert=None);
    `client_ca` makes it require a client certificate from that CA."""

    def __init__(self, workdir, root, pki=None, cert="server", client_ca=None, extra="",
                 protocols="TLSv1.2 TLSv1.3"):
        if NGINX is None:
            print("nginx is not installed (apt-get install nginx-light)")
            sys.exit(SKIP)
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=workdir)
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.root, self.pki, self.cert, self.client_ca = root, pki, cert, client_ca
        self.extra, self.protocols = extra, protocols
        self.proc = None

    def _conf(self, port):
        tls = ""
        if self.cert:
            tls = (f"ssl_certificate {self.pki.path(self.cert + '.pem')};\n"
                   f"    ssl_certificate_key {self.pki.path(self.cert + '.key')};\n"
                   f"    ssl_protocols {self.protocols};")
            if "TLSv1.2" not in self.protocols:   # let this OpenSSL offer the old protocol at all
                tls += "\n    ssl_ciphers DEFAULT:@SECLEVEL=0;"
            if self.client_ca:
                tls += (f"\n    ssl_client_certificate {self.pki.path(self.client_ca + '.pem')};"
                        "\n    ssl_verify_client on;")
        return NGINX_CONF.format(d=self.dir, port=port, root=self.root, ssl=" ssl" if self.cert else "",
                                 tls=tls + "\n    " + self.extra)

    def __enter__(self):
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(self._conf(self.port))
            self.proc = subprocess.Popen([NGINX, "-g", "daemon off;", "-e", self.dir + "/startup.log",
                                          "-p", self.dir, "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 10
            while time.time() < deadline and self.proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
                time.sleep(0.05)
            self.stop()
            err = self.log_text("startup.log") + self.log_text("error.log")
            if "in use" not in err:
                raise Failure("nginx did not start: " + err.strip())
        raise Failure("nginx found no free port")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self, name):
        with contextlib.suppress(OSError), open(os.path.join(self.dir, name)) as f:
            return f.read()
        return ""

    def __exit__(self, *exc):
        self.stop()

    def url(self, path, scheme=None):
        scheme = scheme or ("https" if self.cert else "http")
        return f"{scheme}://127.0.0.1:{self.port}/{path}"

    def requests(self):
        """[(uri, status, body bytes sent)] from the access log, in order."""
        path = os.path.join(self.dir, "access.log")
        if not os.path.exists(path):
            return []
        out = []
        with open(path) as f:
            for line in f:
                uri, status, sent = line.split()
                out.append((uri, int(status), int(sent)))
        return out


# ---- a misbehaving HTTPS server (stdlib), for endless and dropped responses

class RogueServer:
    """Serves files from `root` over HTTPS (server cert from `pki`), except the paths in
    `behaviour`: "endless" sends the file and then zeros, with no length, until the client goes
    away (8 GiB at most), "stall" announces the length and sends nothing for 30 s, "drop"
    announces the real length, sends half, and closes the connection."""

    def __init__(self, root, pki, behaviour):
        self.root, self.behaviour = root, behaviour
        self.log = []        # (path, bytes sent), when a response ends
        self.requested = []  # paths, when a request arrives
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                outer.requested.append(path)
                mode = outer.behaviour.get(path)
                file = os.path.join(outer.root, path)
                sent = 0
                try:
                    if mode == "endless":
                        self.send_response(200)
                        self.send_header("Connection", "close")
                        self.end_headers()
                        if os.path.isfile(file):
                            with open(file, "rb") as f:
                                data = f.read()
                            self.wfile.write(data)
                            sent += len(data)
                        chunk = b"\0" * 65536
                        while sent < (8 << 30):
                            self.wfile.write(chunk)
                            sent += len(chunk)
                        return
                    if not os.path.isfile(file):
                        self.send_error(404)
                        return
                    if mode == "stall":
                        self.send_response(200)
                        self.send_header("Content-Length", str(os.path.getsize(file)))
                        self.end_headers()
                        self.wfile.flush()
                        time.sleep(30)
                        return
                    with open(file, "rb") as f:
                        data = f.read()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    if mode == "drop":
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if mode == "drop":
                        data = data[: len(data) // 2]
                    self.wfile.write(data)
                    sent = len(data)
                    if mode == "drop":
                        self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    pass
                finally:
                    outer.log.append((path, sent))

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path):
        return f"https://127.0.0.1:{self.port}/{path}"


def main(cases):
    """Runs the case named by argv[1] in a fresh temporary directory."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_fetch.py CASE\ncases: " + " ".join(cases), file=sys.stderr)
        return 2
    if not BUILD or not os.path.exists(tool("fetch")):
        print("MODELSEAL_BUILD does not hold tools/modelseal-fetch", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="modelseal-fetch-test-")
    try:
        cases[sys.argv[1]](work)
        print("ok")
        return 0
    except Failure as e:
        print("FAIL: " + str(e), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
