"""``redgrid notify``: contacts, the deadline scan (idempotent), the delivery worker against a
local fake gateway, and the undelivered list, on a copy of the demo database."""

from __future__ import annotations

import re

from tests.apps import cli_ok
from tests.notify_fakes import SMS_KEY

pytest_plugins = ["tests.apps", "tests.notify_fakes"]


def test_contacts_scan_send_and_undelivered_from_the_command_line(demo_db, sms_gateway):
    gateway = {"SMS_URL": sms_gateway.url, "SMS_KEY": SMS_KEY}
    add = ("notify", "contact", "add", "department", "urban_management", "sms", "138 0013 8000")
    assert cli_ok(demo_db.cli(*add)).stdout.strip() == "added"
    assert cli_ok(demo_db.cli(*add)).stdout.strip() == "already there"
    bad = demo_db.cli("notify", "contact", "add", "department", "urban_management", "sms", "12")
    assert bad.exit_code == 2 and "not a phone number" in bad.stderr
    listed = cli_ok(demo_db.cli("notify", "contact", "list")).stdout
    assert re.search(r"department\s+urban_management\s+sms\s+13800138000", listed)

    first = cli_ok(demo_db.cli("notify", "scan")).stdout
    checked, added = map(int, re.match(r"(\d+) running deadlines checked, (\d+) new notices", first).groups())
    assert checked > 0 and added > 0  # the demo has open cases past their deadlines
    assert cli_ok(demo_db.cli("notify", "scan")).stdout.endswith(", 0 new notices\n")

    sent = cli_ok(demo_db.cli("notify", "send", "--limit", "1000", **gateway)).stdout
    claimed, ok = map(int, re.match(r"(\d+) claimed: (\d+) sent", sent).groups())
    to_department = {r["body"]["to"][0] for r in sms_gateway.requests}
    assert ok == len(sms_gateway.delivered) > 0 and to_department == {"13800138000"}
    assert claimed == ok  # everything else had no contact and is already undelivered
    again = cli_ok(demo_db.cli("notify", "send", **gateway)).stdout
    assert again.startswith("0 claimed") and len(sms_gateway.requests) == ok

    undelivered = cli_ok(demo_db.cli("notify", "undelivered", "--limit", "5")).stdout.splitlines()
    assert len(undelivered) == 5 and all(" failed " in line and " none " in line for line in undelivered)
    missing = demo_db.cli("notify", "retry", "99999999")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
