#!/usr/bin/python3
"""Reads a saved message with Python's email module (an independent MIME parser) and prints
what the mail tests check, as JSON. Inline images are written beside the message as
<message>.<n>.png."""
import email
import email.policy
import json
import sys

path = sys.argv[1]
raw = open(path, "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
out = {
    "from": str(msg["From"]), "to": str(msg["To"]),
    "to_name": msg["To"].addresses[0].display_name, "to_addr": msg["To"].addresses[0].addr_spec, "subject": str(msg["Subject"]),
    "date": str(msg["Date"]), "message_id": str(msg["Message-ID"]),
    "mime_version": str(msg["MIME-Version"]), "content_type": msg.get_content_type(),
    "defects": [type(d).__name__ for d in msg.defects], "structure": [], "images": [],
}
for part in msg.walk():
    out["structure"].append(part.get_content_type())
    out["defects"] += [type(d).__name__ for d in part.defects]
    ctype = part.get_content_type()
    if ctype == "text/plain":
        out["text"] = part.get_content().replace("\r\n", "\n")
    elif ctype == "text/html":
        out["html"] = part.get_content().replace("\r\n", "\n")
    elif ctype == "image/png":
        name = "%s.%d.png" % (path, len(out["images"]))
        open(name, "wb").write(part.get_content())
        out["images"].append({"file": name, "cid": str(part["Content-ID"]),
                              "disposition": part.get_content_disposition()})
json.dump(out, sys.stdout)
