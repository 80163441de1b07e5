"""The engine beside ingestion (issue 22): chat decoding tokens/s and first
token of the local engine alone, next to an ingest running at normal
priority, and next to an ingest run the way `make run` runs it
(deploy/scripts/ingest-priority.sh: its own session, niced, SCHED_IDLE);
and what the ingest itself gets done meanwhile (passages embedded per s).

    python ai-service/bench/contention_bench.py [--model NAME] [--turns 4]
        [--answer-tokens 128]

The ingest is the real embedding step of ingestion (sentence-transformers
all-MiniLM-L6-v2 on torch, batches of passages of Pride and Prejudice, as
the ingestion worker embeds them) in its own process, started before the
chat turns and stopped after. Writes var/bench/contention.json."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import ASKS, Passages, build, engine_turn, questions  # noqa: E402
from local_model_bench import machine_description  # noqa: E402

from gaji_ai.llm import engine, models  # noqa: E402
from gaji_ai.llm.providers import EngineProvider  # noqa: E402

PRIORITY = ROOT / "deploy" / "scripts" / "ingest-priority.sh"

INGEST = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1])
from gaji_ai.config import get_settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.ingestion.text import decode, strip_gutenberg
from pathlib import Path
text = strip_gutenberg(decode(Path(sys.argv[2]).read_bytes())).body
paragraphs = [p for p in text.split("\n\n") if len(p) > 200]
embedder = dense_embedder(get_settings())
embedder.embed(paragraphs[:8])
print("ready", flush=True)
done, started, i = 0, time.perf_counter(), 0
while True:
    batch = [paragraphs[(i + k) % len(paragraphs)] for k in range(32)]
    i += 32
    embedder.embed(batch)
    done += len(batch)
    print(json.dumps({"passages": done, "seconds": time.perf_counter() - started}), flush=True)
"""


class Ingest:
    """The embedding loop in a child process, at the priority asked for."""

    def __init__(self, mode: str) -> None:
        argv = [
            sys.executable,
            "-c",
            INGEST,
            str(ROOT / "ai-service"),
            str(ROOT / "data" / "novels" / "pride-and-prejudice.txt"),
        ]
        env = dict(os.environ)
        if mode == "idle":
            argv = [str(PRIORITY), *argv]
        else:
            env["INGEST_PRIORITY"] = "normal"
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        self.last: dict = {}
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("{"):
                self.last = json.loads(line)

    def rate_since(self, mark: dict) -> float:
        passages = self.last.get("passages", 0) - mark.get("passages", 0)
        seconds = self.last.get("seconds", 0) - mark.get("seconds", 0)
        return round(passages / seconds, 1) if seconds > 0 else 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def chat(url: str, model: str, prompts: list, tokens: int) -> dict:
    rates, firsts = [], []
    for messages in prompts:
        r = engine_turn(url, model, messages, tokens)
        if r["tokens"] > 1 and r["end"] > r["first"]:
            rates.append((r["tokens"] - 1) / (r["end"] - r["first"]))
        firsts.append((r["first"] - r["started"]) * 1000)
    return {
        "decode_tokens_per_s": round(statistics.median(rates), 2) if rates else 0.0,
        "first_token_ms_p50": round(statistics.median(firsts)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("LLM_LOCAL_MODEL", models.DEFAULT_MODEL))
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--answer-tokens", type=int, default=128)
    parser.add_argument("--port", type=int, default=8095)
    args = parser.parse_args()
    config = engine.EngineConfig(
        model=args.model,
        port=args.port,
        slots=1,
        context_per_slot=2048,
        threads=os.cpu_count() or 2,
        cache_ram_mib=0,
        repack=engine.repack_allowed("auto", args.model),
    )
    supervisor = engine.Supervisor(config, say=lambda line: None)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    passages = Passages()
    rows = []
    try:
        if not engine.wait_healthy(config.url, timeout=600):
            raise SystemExit("engine did not come up")
        count = EngineProvider(base_url=config.url, model=args.model, timeout=60).count_tokens
        prompts = [build(count, passages, q, []) for q in questions(args.turns, ASKS)]
        chat(config.url, args.model, prompts[:1], 8)  # warm
        print(f"{machine_description()}; model {args.model}", flush=True)
        for mode in ("none", "normal", "idle"):
            ingest = None
            if mode != "none":
                ingest = Ingest(mode)
                ingest.ready.wait(120)
                time.sleep(2)
            mark = dict(ingest.last) if ingest else {}
            result = chat(config.url, args.model, prompts, args.answer_tokens)
            row = {"ingest": mode, **result}
            if ingest:
                row["ingest_passages_per_s"] = ingest.rate_since(mark)
                ingest.stop()
            rows.append(row)
            print(
                f"ingest {mode:<7} chat decode {row['decode_tokens_per_s']:>6} tok/s, "
                f"first token p50 {row['first_token_ms_p50']:>6} ms"
                + (f", ingest {row['ingest_passages_per_s']} passages/s" if ingest else ""),
                flush=True,
            )
        alone = Ingest("normal")
        alone.ready.wait(120)
        time.sleep(2)
        mark = dict(alone.last)
        time.sleep(15)
        quiet_rate = alone.rate_since(mark)
        alone.stop()
        print(f"ingest alone: {quiet_rate} passages/s", flush=True)
    finally:
        supervisor.stop()
        thread.join(30)
    out = ROOT / "var" / "bench" / "contention.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": machine_description(),
                "model": args.model,
                "rows": rows,
                "ingest_alone_passages_per_s": quiet_rate,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
