#!/usr/bin/env python3
"""A small, honest, read-only registry that serves broken images.

It speaks enough of the distribution API (GET/HEAD /v2/, manifests by tag or
digest, blobs) to serve OCI layouts built by build_fixtures.py under ROOT:
ROOT/NAME/{index.json,blobs/sha256/...} is served as repository NAME. The
layouts themselves are broken (a corrupt blob, a malformed manifest, a wrong
diff_id, evil tar paths); this server only adds what a file can't express:

  ROOT/NAME/badreg.json  {"truncate": {"sha256:...": N}}
      send the blob's full Content-Length but only its first N bytes, then
      close the connection (a truncated download).

Usage: badreg.py --addr 127.0.0.1 --port 5001 --root DIR
"""

import argparse
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "."
NAME_RE = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
ROUTE = re.compile(r"^/v2/(" + NAME_RE + r")/(manifests|blobs)/([^/]+)$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def load_json(path):
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rpod-badreg/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def error(self, status, code, message):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/v2", "/v2/"):
            return self.send_body(b"{}", "application/json")
        m = ROUTE.match(path)
        if not m:
            return self.error(404, "NOT_FOUND", "no route for " + path)
        name, kind, ref = m.groups()
        repo = os.path.join(ROOT, name)
        index = load_json(os.path.join(repo, "index.json"))
        if index is None:
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        meta = load_json(os.path.join(repo, "badreg.json")) or {}
        if kind == "manifests":
            return self.manifest(repo, index, ref)
        if not DIGEST.match(ref):
            return self.error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        return self.blob(repo, ref, meta.get("truncate", {}).get(ref))

    def manifest(self, repo, index, ref):
        desc = None
        for d in index.get("manifests", []):
            tag = d.get("annotations", {}).get("org.opencontainers.image.ref.name")
            if ref == tag or ref == d.get("digest"):
                desc = d
        if desc is None and DIGEST.match(ref):
            # A child manifest of an index, or a config: look it up by digest.
            p = os.path.join(repo, "blobs", "sha256", ref[7:])
            if os.path.exists(p):
                doc = load_json(p) or {}
                desc = {"digest": ref, "mediaType": doc.get("mediaType", "application/octet-stream")}
        if desc is None:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        with open(os.path.join(repo, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
            body = f.read()
        self.send_body(body, desc["mediaType"], {"Docker-Content-Digest": desc["digest"]})

    def blob(self, repo, digest, truncate_at):
        p = os.path.join(repo, "blobs", "sha256", digest[7:])
        try:
            f = open(p, "rb")
        except OSError:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("Docker-Content-Digest", digest)
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.end_headers()
            if self.command == "HEAD":
                return
            todo = size if truncate_at is None else min(int(truncate_at), size)
            while todo > 0:
                b = f.read(min(todo, 1 << 16))
                if not b:
                    break
                self.wfile.write(b)
                todo -= len(b)
            if truncate_at is not None:
                self.wfile.flush()
                self.close_connection = True

    def send_body(self, body, ctype, headers=None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def main():
    global ROOT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5001)
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    ROOT = args.root
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer((args.addr, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
