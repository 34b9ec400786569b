#!/usr/bin/env python3
"""Where one saga's time goes: merges the local runtime's debug log (stderr, JSON lines with
microsecond timestamps: saga states entered, deliveries) and its event trace (stdout: each
event's occurredAt) into one timeline per reservation, each line with its offset from the first.

  RUST_LOG=warn,reserveplace_local_sfn=debug,reserveplace_local=debug \
    reserveplace-local --dev --data-dir D >events.jsonl 2>log.jsonl &
  reserveplace-load --scenario follow --requests 5 --places 1 --poll-ms 0
  functions/load/saga_timeline.py log.jsonl events.jsonl [RESERVATION_ID]
"""
import json
import sys
from datetime import datetime


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def lines(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    pass


def reservation_of(rec):
    for s in [rec.get("span", {})] + rec.get("spans", []):
        rid = s.get("reservation_id") or s.get("execution")
        if rid:
            return rid
    return None


def main():
    log, events = sys.argv[1], sys.argv[2]
    rows = {}
    for rec in lines(log):
        rid = reservation_of(rec)
        if not rid or "timestamp" not in rec:
            continue
        f = rec.get("fields", {})
        what = f.get("message", "")
        if "state" in f:
            what += f" {f['state']}"
        fn = next((s.get("function") for s in reversed(rec.get("spans", [])) if s.get("function")), None)
        if fn:
            what += f"  [{fn}]"
        rows.setdefault(rid, []).append((ts(rec["timestamp"]), "log  ", what))
    for ev in lines(events):
        d = ev.get("detail", {})
        rid = d.get("reservationId")
        if rid and "occurredAt" in d:
            rows.setdefault(rid, []).append((ts(d["occurredAt"]), "event", ev.get("detail-type", "?")))
    if not rows:
        sys.exit("no reservation found in the logs (RUST_LOG must enable debug, events must be printed)")
    rid = sys.argv[3] if len(sys.argv) > 3 else max(rows, key=lambda r: len(rows[r]))
    timeline = sorted(rows[rid])
    t0 = timeline[0][0]
    print(f"reservation {rid}: {len(timeline)} entries, "
          f"{(timeline[-1][0] - t0).total_seconds() * 1e3:.2f} ms first to last")
    for t, kind, what in timeline:
        print(f"{(t - t0).total_seconds() * 1e3:9.3f} ms  {kind}  {what}")


main()
