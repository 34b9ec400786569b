#!/usr/bin/env python3
"""Prints the BENCHMARKS.md table from the reports bench.sh left in a directory."""
import json
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
TXN_PER_SAGA = 17  # durable transactions of one instant-book saga (BENCHMARKS.md, profile)


def report(name):
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def metric(r, name):
    for m in (r or {}).get("metrics", []):
        if m["name"] == name:
            return m
    return {}


def derived(r, key):
    return (r or {}).get("derived", {}).get(key)


def commit(name):
    p = out / f"{name}.txt"
    if not p.exists():
        return {}
    t = p.read_text()
    get = lambda pat: float(m.group(1)) if (m := re.search(pat, t)) else None
    return {"rate": get(r"committed\s+([\d.]+) txn/s"), "p50": get(r"latency p50\s+([\d.]+) ms"),
            "p99": get(r"latency p99\s+([\d.]+) ms")}


def fmt(v, unit="", digits=1):
    return "-" if v is None else f"{v:,.{digits}f}{unit}"


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "NOT met")


def cpu(name):
    """(runtime CPU s, hello-world CPU s, load tool CPU s, wall s) of one scenario."""
    srv, cli = out / f"{name}.server-cpu", out / f"{name}.client-cpu"
    if not srv.exists() or not cli.exists():
        return None
    local, hello, hz = (float(x) for x in srv.read_text().split())
    lines = [l for l in cli.read_text().splitlines() if l.strip()]
    user, system, wall = (float(x) for x in lines[-1].split())
    return local / hz, hello / hz, user + system, wall


rows = []
c1, c64, c512 = commit("commit-1"), commit("commit-64"), commit("commit-512")

seed = report("seed-follow")
m = metric(seed, "accommodations -> mypage final (client)")
rows.append(("seed routes, 1 client: POST /accommodations until GET /mypages/{id} shows 예약완료, p50 / p99",
             f"{fmt(m.get('p50_ms'), ' ms', 2)} / {fmt(m.get('p99_ms'), ' ms', 2)}",
             "the seed: 595 ms (ReservationPlaced → ReservationStatusChanged)",
             fmt(595 / m["p50_ms"], "x faster") if m.get("p50_ms") else "-", "-", "-"))

fol = report("follow")
m = metric(fol, "reserve -> mypage final (client)")
s = metric(fol, "saga placed -> final (server clock)")
ok = None if not m else (m["p50_ms"] <= 3 and m["p99_ms"] <= 10)
rows.append(("1 client saga, POST until GET /v1/mypages/{id} final, p50 / p99 (server clock p50)",
             f"{fmt(m.get('p50_ms'), ' ms', 2)} / {fmt(m.get('p99_ms'), ' ms', 2)} ({fmt(s.get('p50_ms'), ' ms', 2)})",
             f"{TXN_PER_SAGA} x the store's one-task commit p50 ({fmt(c1.get('p50'), ' ms', 3)}): "
             f"{fmt(c1['p50'] * TXN_PER_SAGA if c1.get('p50') else None, ' ms', 2)}",
             "-", "p50 ≤ 3 ms, p99 ≤ 10 ms", verdict(ok)))

res = report("reserve")
rate = derived(res, "sagas per second (first placed to last final, server clock)")
a = metric(res, "POST /v1/reservations (client)")
s = metric(res, "saga placed -> final (server clock)")
ok = None if rate is None else (rate >= 3000 and res["errors"] == 0)
ref = max(c64.get("rate") or 0, c512.get("rate") or 0) or None
rows.append(("64 clients, 4000 reservations: sagas/s (API p50/p99, saga p50/p99), errors",
             f"{fmt(rate, '', 0)} (API {fmt(a.get('p50_ms'))}/{fmt(a.get('p99_ms'))} ms, saga "
             f"{fmt(s.get('p50_ms'))}/{fmt(s.get('p99_ms'))} ms), errors {res['errors'] if res else '-'}",
             f"store raw commit rate (best of 64 and 512 tasks: {fmt(c64.get('rate'), '', 0)} / {fmt(c512.get('rate'), '', 0)} txn/s) "
             f"= {fmt(ref / TXN_PER_SAGA if ref else None, ' sagas/s', 0)} at {TXN_PER_SAGA} txn/saga",
             fmt(rate * TXN_PER_SAGA / ref * 100 if rate and ref else None, " % of it", 0),
             "≥ 3,000 sagas/s, 0 errors", verdict(ok)))

reads = [derived(report(f"read-{i}"), "reads per second (both kinds)") for i in (1, 2)]
hello = [derived(report(f"get-{i}"), "reads per second (both kinds)") for i in (1, 2)]
pairs = [r / h for r, h in zip(reads, hello) if r and h]
ratio = min(pairs) if pairs else None
rb = metric(report("read-2"), "GET /v1/mypages/{id}")
rows.append(("64 clients: MyPage reads/s (by id and by user alternated), two rounds; by-id p99 (round 2)",
             " / ".join(fmt(r, "", 0) for r in reads) + f"; p99 {fmt(rb.get('p99_ms'), ' ms', 2)}",
             "bare hyper hello-world, same client: " + " / ".join(fmt(h, "", 0) for h in hello),
             " / ".join(fmt(p * 100, " %", 0) for p in pairs), "≥ 40 % of hello-world",
             verdict(None if ratio is None else ratio >= 0.40)))

mix = report("mix")
rows.append(("64 clients, mix reserve=1,read=4: operations/s (API p99 reserve)",
             f"{fmt(derived(mix, 'operations per second'), '', 0)} (p99 {fmt(metric(mix, 'POST /v1/reservations (client)').get('p99_ms'))} ms)",
             "-", "-", "-", "-"))

br = report("breaker")
ans = derived(br, "answered % (accepted and followed to a final status)")
a = metric(br, "POST /v1/reservations (client)")
f = metric(br, "reserve -> mypage final (client)")
ok = None if ans is None else (ans == 100 and a["p99_ms"] <= 50)
rows.append(("seed circuit breaker: payment 400–620 ms, 100 clients, 60 s: answered, accept p99, to final p50/p99, sagas",
             f"{fmt(ans, ' %', 2)}, {fmt(a.get('p99_ms'), ' ms', 2)}, {fmt(f.get('p50_ms'), ' ms', 0)}/{fmt(f.get('p99_ms'), ' ms', 0)}, "
             f"{f.get('count', '-')} ({fmt(f.get('per_sec'), '/s', 1)}) {(br or {}).get('outcomes', {})}",
             "the seed (siege -c100 -t60S): availability 63.55 %, 17.15 trans/s, response 5.60 s, longest 9.20 s",
             "-", "100 % answered, accept p99 ≤ 50 ms", verdict(ok)))

print("| figure | measured | reference (same run) | ratio | target | |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")

print()
print("| scenario | runtime CPU | hello-world CPU | load tool CPU | wall | per operation (runtime) |")
print("| --- | --- | --- | --- | --- | --- |")
for name, ops in [("seed-follow", 300), ("follow", 300), ("reserve", 4000), ("get-1", 60000), ("read-1", 60000),
                  ("get-2", 60000), ("read-2", 60000), ("mix", 5000), ("mix-search", 5000), ("breaker", None)]:
    c = cpu(name)
    if c is None:
        continue
    local, hello, client, wall = c
    if ops is None:
        m = metric(report(name), "POST /v1/reservations (client)")
        ops = m.get("count")
    per = (hello if name.startswith("get") else local) / ops * 1e3 if ops else None
    print(f"| {name} | {local:.2f} s | {hello:.2f} s | {client:.2f} s | {wall:.2f} s | {fmt(per, ' ms', 3)} |")

print()
print("| search | places / cities | clients | searches/s | p50 | p90 | p99 | max | read units per search, mean / max | items per page | errors |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name in ("search-spread", "search-spread-1", "search-one-city", "search-one-city-1", "search-100", "search-1000",
             "mix-search"):
    r = report(name)
    if r is None:
        continue
    m = metric(r, "GET /v1/search")
    p = r["params"]
    print(f"| {name} | {p.get('places'):,} / {p.get('cities')} | {p.get('concurrency')} | {fmt(m.get('per_sec'), '', 1)} | "
          f"{fmt(m.get('p50_ms'), ' ms', 2)} | {fmt(m.get('p90_ms'), ' ms', 2)} | {fmt(m.get('p99_ms'), ' ms', 2)} | "
          f"{fmt(m.get('max_ms'), ' ms', 2)} | {fmt(derived(r, 'read units per search (mean, X-Read-Units)'), '', 2)} / "
          f"{fmt(derived(r, 'read units per search (max, X-Read-Units)'), '', 1)} | "
          f"{fmt(derived(r, 'items per page (mean)'), '', 1)} | {r['errors']} |")
