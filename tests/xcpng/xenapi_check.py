#!/usr/bin/env python3
"""Drives tests/xcpng/xapi_server.py with the official XenAPI client (XML-RPC)
the way a real integration would, and checks a raw VDI export byte for byte.
Usage: xenapi_check.py URL USER PASSWORD VM DISK_FILE [FIRMWARE]: FIRMWARE
(default bios) is what the VM's HVM_boot_params must declare. Prints "ok"."""

import hashlib
import sys
import time
import urllib.request

import XenAPI

url, user, password, vm_name, disk = sys.argv[1:6]
firmware = sys.argv[6] if len(sys.argv) > 6 else "bios"

bad = XenAPI.Session(url)
try:
    bad.xenapi.login_with_password(user, password + "x", "2.0", "hype-test")
    sys.exit("a wrong password was accepted")
except XenAPI.Failure as f:
    assert f.details[0] == "SESSION_AUTHENTICATION_FAILED", f.details

s = XenAPI.Session(url)
s.xenapi.login_with_password(user, password, "2.0", "hype-test")
records = s.xenapi.VM.get_all_records()
vms = [r for r, v in records.items()
       if v["name_label"] == vm_name and not v["is_a_template"] and not v["is_control_domain"]]
assert len(vms) == 1, records
vm = s.xenapi.VM.get_record(vms[0])
assert isinstance(vm["HVM_boot_params"], dict), vm
assert vm["HVM_boot_params"].get("firmware", "bios") == firmware, vm["HVM_boot_params"]
disks = []
for vbd in vm["VBDs"]:
    rec = s.xenapi.VBD.get_record(vbd)
    if rec["type"] == "Disk":
        disks.append((int(rec["userdevice"]), rec["VDI"]))
disks.sort()
vdi = s.xenapi.VDI.get_record(disks[0][1])
size = int(vdi["virtual_size"])
task = s.xenapi.task.create("export", "")
assert s.xenapi.task.get_status(task) == "pending"
with urllib.request.urlopen(
        f"{url}/export_raw_vdi?session_id={s._session}&vdi={disks[0][1]}&format=raw&task_id={task}") as r:
    data = r.read()
for _ in range(100):
    if s.xenapi.task.get_status(task) != "pending":
        break
    time.sleep(0.05)
assert s.xenapi.task.get_status(task) == "success"
s.xenapi.task.destroy(task)
try:
    s.xenapi.task.get_status(task)
    sys.exit("a destroyed task is still there")
except XenAPI.Failure as f:
    assert f.details[0] == "HANDLE_INVALID", f.details
assert len(data) == size, (len(data), size)
with open(disk, "rb") as f:
    assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
s.xenapi.session.logout()
print("ok")
