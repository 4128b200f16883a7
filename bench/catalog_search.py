"""Catalog search and guide: latency in-process and over HTTP, against the ceilings beside them.

Builds a 5,000-matter catalog (the shipped matters, each re-issued in many variants, as a
city's full catalog with district implementations would be), loads it into a fresh SQLite
file, then prints:
- search p50/p95 in-process (the service function) next to a bare FTS5 MATCH (the ceiling);
- search and guide p50/p95 over HTTP (a `tongban serve` process, one keep-alive client);
- requests/s of the guide endpoint next to /healthz (same server, same concurrent client).

Run: `python bench/catalog_search.py [--matters 5000] [--queries 2000]`. Goal: p95 in-process
search under 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import text

from tongban.catalog import search
from tongban.catalog.loader import read_catalog
from tongban.catalog.schemas import MatterIn
from tongban.catalog.service import SearchParams, apply_catalog, search_matters
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.migrate import upgrade
from tongban.settings import sqlite_url

QUERIES = [
    "生孩子",
    "出生医学证明",
    "开便利店",
    "办居住证",
    "退休",
    "领养老金",
    "上户口",
    "食品经营许可",
    "公司注册",
    "结婚登记",
    "护照",
    "医保",
    "社保卡",
    "公积金提取",
    "烟草",
    "开餐馆",
    "健身房",
    "宾馆",
    "药店",
    "营业执照",
    "残疾人证",
    "失业金",
    "居住证积分",
    "新生儿",
    "排污许可",
]
VARIANTS = [
    "首次申请",
    "变更",
    "延续",
    "注销",
    "补证",
    "换证",
    "迁移",
    "撤回",
    "更正",
    "备案",
    "告知承诺",
    "加急",
    "异地",
    "跨省通办",
    "自助",
    "预约",
    "邮寄",
    "网上",
    "窗口",
    "代办",
    "法人",
    "个体",
    "外籍人员",
    "港澳台居民",
    "老年人",
    "残疾人",
    "军人",
    "学生",
    "企业",
    "社会组织",
    "事业单位",
    "农村",
    "城镇",
    "临时",
    "长期",
    "年度",
    "季度",
    "补办",
    "挂失",
    "恢复",
    "暂停",
    "终止",
    "转移",
    "合并",
    "分立",
    "核查",
    "确认",
    "查询",
    "打印",
    "领取",
    "复核",
    "申诉",
    "撤销",
    "转入",
    "转出",
    "续签",
    "签注",
    "核发",
]


def build_catalog(n: int):  # type: ignore[no-untyped-def]
    """The shipped catalog with its matters re-issued until there are n of them."""
    src = read_catalog()
    base = list(src.matters.values())
    matters: dict[str, MatterIn] = {}
    i = 0
    while len(matters) < n:
        m = base[i % len(base)]
        variant = VARIANTS[(i // len(base)) % len(VARIANTS)]
        code = f"9{i:011d}"
        matters[code] = m.model_copy(
            update={"code": code, "name": f"{m.name}（{variant}）", "implementation_code": None}
        )
        i += 1
    src.matters = matters
    return src


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def fmt(label: str, samples: list[float], ceiling: str = "") -> str:
    return (
        f"{label:<44} p50 {pct(samples, 50) * 1000:7.2f} ms   p95 {pct(samples, 95) * 1000:7.2f} ms"
        f"{'   ' + ceiling if ceiling else ''}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_in_process(url: str, queries: int) -> tuple[list[float], list[float]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    ours: list[float] = []
    bare: list[float] = []
    with transaction(sessions) as session:
        for q in QUERIES:  # warm caches and the segmenter
            search_matters(session, SearchParams(q=q))
        for i in range(queries):
            q = QUERIES[i % len(QUERIES)]
            t = time.perf_counter()
            search_matters(session, SearchParams(q=q, size=20))
            ours.append(time.perf_counter() - t)
            # The ceiling: the raw FTS5 MATCH with bm25 for the same words, no segmentation,
            # no filters, no count, no result objects.
            sql, params = search.match_sql(session, search.plan_query(q))
            t = time.perf_counter()
            session.execute(text(sql + " ORDER BY score DESC LIMIT 20"), params).all()
            bare.append(time.perf_counter() - t)
    engine.dispose()
    return ours, bare


def http_latency(base: str, paths: list[str], n: int) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=base, timeout=10) as c:
        for p in paths[:5]:
            c.get(p)
        for i in range(n):
            t = time.perf_counter()
            r = c.get(paths[i % len(paths)])
            out.append(time.perf_counter() - t)
            r.raise_for_status()
    return out


async def _throughput(base: str, path: str, total: int, concurrency: int) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                queue.pop()
                (await c.get(path)).raise_for_status()

        for _ in range(20):
            await c.get(path)
        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - t)


def throughput(base: str, path: str, total: int = 3000, concurrency: int = 16) -> float:
    """Requests/s from wrk when the machine has it (a C client that does not steal the
    server's CPU as much), else from an asyncio client in this process."""
    if shutil.which("wrk"):
        out = subprocess.run(
            ["wrk", "-t2", f"-c{concurrency}", "-d5s", base + quote(path, safe="/?=&")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if match:
            return float(match.group(1))
    return asyncio.run(_throughput(base, path, total, concurrency))


def serve(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TONGBAN_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tongban", "serve", "--db", str(db), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matters", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        url = sqlite_url(db)
        engine = make_engine(url)
        upgrade(engine)
        t = time.perf_counter()
        src = build_catalog(args.matters)
        with transaction(make_sessionmaker(engine)) as session:
            apply_catalog(session, src)
        load_s = time.perf_counter() - t
        size_kib = db.stat().st_size // 1024
        print(f"catalog: {len(src.matters)} matters, loaded in {load_s:.1f} s ({size_kib} KiB)")
        t = time.perf_counter()
        with transaction(make_sessionmaker(engine)) as session:
            report = apply_catalog(session, src)
        print(
            f"reload of the unchanged catalog: {time.perf_counter() - t:.1f} s "
            f"({report.unchanged} unchanged, {len(report.updated)} new versions)"
        )
        engine.dispose()
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")

        ours, bare = bench_in_process(url, args.queries)
        print("in-process (goal: search p95 < 10 ms)")
        print(fmt("  search_matters (segment, match, filter, count)", ours))
        print(fmt("  ceiling: bare FTS5 MATCH + bm25, top 20", bare))

        port = free_port()
        proc = serve(db, port)
        base = f"http://127.0.0.1:{port}"
        try:
            codes = list(src.matters)[:200]
            search_paths = [f"/api/v1/matters?q={q}" for q in QUERIES]
            guide_paths = [f"/api/v1/matters/{c}" for c in codes]
            print("\nover HTTP (uvicorn, 1 process, one keep-alive client)")
            print(fmt("  GET /api/v1/matters?q=…", http_latency(base, search_paths, 500)))
            print(fmt("  GET /api/v1/matters/{code} (guide)", http_latency(base, guide_paths, 500)))
            print(fmt("  ceiling: GET /healthz", http_latency(base, ["/healthz"], 500)))
            client = "wrk, 5 s" if shutil.which("wrk") else "asyncio client, 3,000 requests"
            print(f"\nthroughput (16 concurrent connections, {client})")
            guide_rps = throughput(base, guide_paths[0])
            search_rps = throughput(base, search_paths[0])
            health_rps = throughput(base, "/healthz")
            print(f"  {'GET /api/v1/matters/{code} (guide)':<42} {guide_rps:8.0f} req/s")
            print(f"  {'GET /api/v1/matters?q=生孩子':<42} {search_rps:8.0f} req/s")
            print(f"  {'ceiling: GET /healthz':<42} {health_rps:8.0f} req/s")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
