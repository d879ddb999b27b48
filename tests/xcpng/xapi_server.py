#!/usr/bin/env python3
"""A small XAPI server for hype's tests, written from XAPI's documented wire
protocol: XML-RPC on POST / (what the official XenAPI client speaks) and
JSON-RPC 2.0 on POST /jsonrpc, the same methods behind both; raw VDI export
(GET /export_raw_vdi) and whole-VM XVA export (GET /export) under tasks.

Only the standard library. Prints "listening on PORT" once ready.

  xapi_server.py --user root --password secret --vm web01=/path/disk0.raw[,/path/disk1.raw]
      [--delay SECONDS_PER_MIB] [--truncate] [--corrupt-checksum] [--climb]
      [--redirect] [--tls CERT KEY] [--claim-size BYTES] [--uefi NAME]... [--running NAME]...

A VM named with --uefi declares HVM_boot_params firmware=uefi, as XCP-ng
records a UEFI guest; the others have no firmware key, as BIOS guests made
before XCP-ng knew UEFI (and which it still boots BIOS).
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20


class Failure(Exception):
    def __init__(self, *desc):
        super().__init__(desc[0])
        self.desc = [str(d) for d in desc]


class Xapi:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.sessions = set()
        self.tasks = {}
        self.vms, self.vbds, self.vdis = {}, {}, {}
        self.vifs, self.metrics = {}, {}
        self.networks = {"OpaqueRef:net0": {"uuid": str(uuid.uuid4()),
                                            "name_label": "Pool-wide network associated with eth0"}}
        # dom0 and a template, which an export must never pick; XCP-ng's own
        # built-in templates are marked default_template, which an inventory hides.
        self.vms["OpaqueRef:dom0"] = self.vm_record("Control domain", [], control=True)
        self.vms["OpaqueRef:tmpl"] = self.vm_record("Debian Template", [], template=True)
        builtin = self.vm_record("Windows Server 2022 (64-bit)", [], template=True)
        builtin["other_config"] = {"default_template": "true"}
        self.vms["OpaqueRef:builtin"] = builtin
        for spec in args.vm:
            name, paths = spec.split("=", 1)
            vm_ref = "OpaqueRef:" + str(uuid.uuid4())
            vbd_refs = []
            for dev, path in enumerate(paths.split(",")):
                vdi_ref = "OpaqueRef:" + str(uuid.uuid4())
                vbd_ref = "OpaqueRef:" + str(uuid.uuid4())
                self.vdis[vdi_ref] = {
                    "uuid": str(uuid.uuid4()), "name_label": f"{name} disk {dev}",
                    "virtual_size": args.claim_size or os.path.getsize(path), "path": path,
                    "type": "user",
                }
                self.vbds[vbd_ref] = {
                    "uuid": str(uuid.uuid4()), "VM": vm_ref, "VDI": vdi_ref,
                    "type": "Disk", "userdevice": str(dev), "bootable": dev == 0,
                }
                vbd_refs.append(vbd_ref)
            if args.dup_vdi:
                # A crafted VM: a second disk VBD naming the first one's VDI.
                dup = "OpaqueRef:" + str(uuid.uuid4())
                first = self.vbds[vbd_refs[0]]
                self.vbds[dup] = dict(first, uuid=str(uuid.uuid4()),
                                      userdevice=str(len(vbd_refs)), bootable=False)
                vbd_refs.append(dup)
            # An empty CD drive, as most VMs have.
            cd = "OpaqueRef:" + str(uuid.uuid4())
            self.vbds[cd] = {"uuid": str(uuid.uuid4()), "VM": vm_ref, "VDI": "OpaqueRef:NULL",
                             "type": "CD", "userdevice": "3", "bootable": False}
            # Disks listed out of order: the client must sort by userdevice.
            rec = self.vm_record(name, [cd] + list(reversed(vbd_refs)), uefi=name in args.uefi)
            # One NIC on the pool's network, and what the guest tools report.
            vif = "OpaqueRef:" + str(uuid.uuid4())
            self.vifs[vif] = {"uuid": str(uuid.uuid4()), "VM": vm_ref, "device": "0",
                              "MAC": "aa:bb:cc:00:00:%02x" % (len(self.vifs) + 1),
                              "network": "OpaqueRef:net0"}
            rec["VIFs"] = [vif]
            if name in args.running:
                rec["power_state"] = "Running"
                gm = "OpaqueRef:" + str(uuid.uuid4())
                self.metrics[gm] = {"uuid": str(uuid.uuid4()),
                                    "os_version": {"name": "Debian GNU/Linux 12 (bookworm)"}}
                rec["guest_metrics"] = gm
            self.vms[vm_ref] = rec

    @staticmethod
    def vm_record(name, vbds, control=False, template=False, uefi=False):
        boot = {"order": "cd"}
        if uefi:
            boot["firmware"] = "uefi"
        return {"uuid": str(uuid.uuid4()), "name_label": name, "VBDs": vbds,
                "is_a_template": template, "is_control_domain": control,
                "is_a_snapshot": False, "power_state": "Halted",
                "HVM_boot_params": boot, "VIFs": [], "guest_metrics": "OpaqueRef:NULL",
                "other_config": {}, "VCPUs_max": "2", "memory_static_max": str(1 << 30)}

    def check(self, session):
        if session not in self.sessions:
            raise Failure("SESSION_INVALID", session)

    def get(self, table, cls, ref):
        if ref not in table:
            raise Failure("HANDLE_INVALID", cls, ref)
        return table[ref]

    def call(self, method, params, json_rpc):
        p = list(params)
        if method == "session.login_with_password":
            if len(p) < 2 or p[0] != self.args.user or p[1] != self.args.password:
                raise Failure("SESSION_AUTHENTICATION_FAILED", p[0] if p else "",
                              "Authentication failure")
            s = "OpaqueRef:" + str(uuid.uuid4())
            with self.lock:
                self.sessions.add(s)
            return s
        if not p:
            raise Failure("SESSION_INVALID", "")
        self.check(p[0])
        args = p[1:]
        num = (lambda n: n) if json_rpc else str
        if method == "session.logout":
            with self.lock:
                self.sessions.discard(p[0])
            return ""
        if method == "VM.get_all_records":
            return {r: self.vm_view(v) for r, v in self.vms.items()}
        if method == "VM.get_all":
            return list(self.vms)
        if method == "VM.get_record":
            return self.vm_view(self.get(self.vms, "VM", args[0]))
        if method == "VM.get_by_name_label":
            return [r for r, v in self.vms.items() if v["name_label"] == args[0]]
        if method == "VBD.get_record":
            return dict(self.get(self.vbds, "VBD", args[0]))
        if method == "VDI.get_record":
            v = dict(self.get(self.vdis, "VDI", args[0]))
            del v["path"]
            v["virtual_size"] = num(v["virtual_size"])
            return v
        if method == "VBD.get_all_records":
            return {r: dict(v) for r, v in self.vbds.items()}
        if method == "VDI.get_all_records":
            return {r: dict((k, num(x) if k == "virtual_size" else x)
                            for k, x in v.items() if k != "path")
                    for r, v in self.vdis.items()}
        if method == "VIF.get_all_records":
            return {r: dict(v) for r, v in self.vifs.items()}
        if method == "network.get_all_records":
            return {r: dict(v) for r, v in self.networks.items()}
        if method == "VM_guest_metrics.get_all_records":
            return {r: dict(v) for r, v in self.metrics.items()}
        if method == "task.create":
            t = "OpaqueRef:" + str(uuid.uuid4())
            with self.lock:
                self.tasks[t] = {"name_label": args[0], "status": "pending", "error_info": []}
            return t
        if method == "task.get_status":
            return self.get(self.tasks, "task", args[0])["status"]
        if method == "task.get_error_info":
            return self.get(self.tasks, "task", args[0])["error_info"]
        if method == "task.get_record":
            return dict(self.get(self.tasks, "task", args[0]))
        if method == "task.destroy":
            with self.lock:
                self.get(self.tasks, "task", args[0])
                del self.tasks[args[0]]
            return ""
        raise Failure("MESSAGE_METHOD_UNKNOWN", method)

    @staticmethod
    def vm_view(v):
        return dict(v)

    def finish_task(self, task, ok, why=""):
        with self.lock:
            if task in self.tasks:
                self.tasks[task]["status"] = "success" if ok else "failure"
                if not ok:
                    self.tasks[task]["error_info"] = ["INTERNAL_ERROR", why]


def ova_xml(xapi, vm_ref):
    """ova.xml as XAPI writes it: one XML-RPC struct of version and objects,
    references renamed Ref:N."""
    vm = xapi.vms[vm_ref]
    objects, n = [], 0
    refs = {}

    def ref(r):
        nonlocal n
        if r not in refs:
            refs[r] = f"Ref:{n}"
            n += 1
        return refs[r]

    vbds = []
    for vbd_ref in vm["VBDs"]:
        vbd = dict(xapi.vbds[vbd_ref])
        if vbd["VDI"] != "OpaqueRef:NULL":
            vdi = xapi.vdis[vbd["VDI"]]
            objects.append({"class": "VDI", "id": ref(vbd["VDI"]),
                            "snapshot": {"uuid": vdi["uuid"], "name_label": vdi["name_label"],
                                         "virtual_size": str(vdi["virtual_size"])}})
            vbd["VDI"] = ref(vbd["VDI"])
        vbd["VM"] = ref(vm_ref)
        vbds.append({"class": "VBD", "id": ref(vbd_ref), "snapshot": vbd})
    objects.insert(0, {"class": "VM", "id": ref(vm_ref),
                       "snapshot": {"name_label": vm["name_label"], "uuid": vm["uuid"],
                                    "HVM_boot_params": vm["HVM_boot_params"],
                                    "VCPUs_max": vm["VCPUs_max"],
                                    "memory_static_max": vm["memory_static_max"],
                                    "VBDs": [ref(v) for v in vm["VBDs"]]}})
    objects.extend(vbds)
    body = xmlrpc.client.dumps(({"version": {"hostname": "xcp-test", "xapi_major": "1"},
                                 "objects": objects},))
    start, end = body.index("<value>"), body.rindex("</value>") + len("</value>")
    return body[start:end].encode(), refs


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    xapi: Xapi = None

    def log_message(self, *a):
        pass

    def handle(self):
        # A client that stops reading (a cancelled or failed import) is normal here.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path.startswith("/jsonrpc"):
            req = json.loads(raw)
            try:
                out = {"jsonrpc": "2.0", "result": self.xapi.call(req["method"], req.get("params", []), True),
                       "id": req.get("id")}
            except Failure as f:
                out = {"jsonrpc": "2.0", "error": {"code": 1, "message": f.desc[0], "data": f.desc[1:]},
                       "id": req.get("id")}
            self.reply(200, json.dumps(out).encode())
            return
        params, method = xmlrpc.client.loads(raw)
        try:
            out = {"Status": "Success", "Value": self.xapi.call(method, params, False)}
        except Failure as f:
            out = {"Status": "Failure", "ErrorDescription": f.desc}
        self.reply(200, xmlrpc.client.dumps((out,), methodresponse=True, allow_none=True).encode(),
                   "text/xml")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        x, a = self.xapi, self.xapi.args
        if q.get("session_id") not in x.sessions:
            self.reply(401, b"unauthorised")
            return
        if a.redirect and "redirected" not in q:
            # As a pool master sends a client to the host holding the disk.
            self.reply(302, b"", extra=[("Location", f"{url.path}?{url.query}&redirected=1")])
            return
        task = q.get("task_id", "")
        if url.path == "/export_raw_vdi":
            vdi = x.vdis.get(q.get("vdi")) or next(
                (v for v in x.vdis.values() if v["uuid"] == q.get("vdi")), None)
            if vdi is None or q.get("format") != "raw":
                self.reply(404, b"no such VDI or format")
                return
            self.send_raw(vdi, task)
        elif url.path == "/export":
            vm_ref = next((r for r, v in x.vms.items() if v["uuid"] == q.get("uuid")), None)
            if vm_ref is None:
                self.reply(404, b"no such VM")
                return
            self.send_xva(vm_ref, task)
        else:
            self.reply(404, b"not found")

    def send_raw(self, vdi, task):
        a = self.xapi.args
        size = os.path.getsize(vdi["path"])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        limit = size // 2 if a.truncate else size
        try:
            with open(vdi["path"], "rb") as f:
                while sent < limit:
                    data = f.read(min(CHUNK, limit - sent))
                    if not data:
                        break
                    self.wfile.write(data)
                    sent += len(data)
                    if a.delay:
                        time.sleep(a.delay)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.xapi.finish_task(task, False, "client went away")
            self.close_connection = True
            return
        if sent < size:
            self.xapi.finish_task(task, False, "export stopped early")
            self.close_connection = True
            return
        self.xapi.finish_task(task, True)

    def send_xva(self, vm_ref, task):
        a, x = self.xapi.args, self.xapi
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def add(tar, name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))

        try:
            xml, refs = ova_xml(x, vm_ref)
            with tarfile.open(fileobj=self.wfile, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
                add(tar, "ova.xml", xml)
                if a.climb:
                    add(tar, "../escaped", b"x")
                first = True
                for vbd_ref in x.vms[vm_ref]["VBDs"]:
                    vdi_ref = x.vbds[vbd_ref]["VDI"]
                    if vdi_ref == "OpaqueRef:NULL":
                        continue
                    d = refs[vdi_ref]
                    last, skipped = None, 0
                    with open(x.vdis[vdi_ref]["path"], "rb") as f:
                        idx = 0
                        while True:
                            data = f.read(CHUNK)
                            if not data:
                                break
                            if data.count(0) == len(data):
                                skipped += 1
                                if skipped % 4 == 0 and last is not None:
                                    # Keepalive: the last chunk's name again, empty.
                                    add(tar, last, b"")
                                    add(tar, last + ".checksum", hashlib.sha1(b"").hexdigest().encode())
                            else:
                                name = f"{d}/{idx:08d}"
                                add(tar, name, data)
                                digest = hashlib.sha1(data).hexdigest()
                                if a.corrupt_checksum and first:
                                    digest = ("0" if digest[0] != "0" else "1") + digest[1:]
                                first = False
                                add(tar, name + ".checksum", digest.encode())
                                last = name
                                if a.delay:
                                    time.sleep(a.delay)
                            idx += 1
            self.wfile.flush()
            x.finish_task(task, True)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            x.finish_task(task, False, "client went away")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--vm", action="append", default=[], help="NAME=DISK[,DISK...]")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to sleep per MiB sent")
    p.add_argument("--truncate", action="store_true", help="raw exports stop halfway")
    p.add_argument("--corrupt-checksum", action="store_true")
    p.add_argument("--climb", action="store_true", help="XVA with a ../ entry")
    p.add_argument("--dup-vdi", action="store_true",
                   help="each VM has a second VBD naming its first disk's VDI")
    p.add_argument("--redirect", action="store_true", help="exports answer 302 first")
    p.add_argument("--claim-size", type=int, default=0,
                   help="declare this virtual_size whatever the disk's real size")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    p.add_argument("--running", action="append", default=[], metavar="NAME",
                   help="VM NAME is Running, with guest metrics naming its OS")
    p.add_argument("--uefi", action="append", default=[], metavar="NAME",
                   help="VM NAME declares HVM_boot_params firmware=uefi")
    args = p.parse_args()
    Handler.xapi = Xapi(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    if args.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"listening on {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
