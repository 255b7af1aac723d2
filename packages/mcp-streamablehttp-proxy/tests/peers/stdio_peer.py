"""A small stdio JSON-RPC peer with misbehaviours on demand (crash, garbage, silence).

It answers raw JSON-RPC without the SDK, so tests can see exactly which bytes
crossed the proxy: `echo` returns the request as it arrived, unknown methods
are answered too, and every response carries an unknown top-level field.
Set PEER_IGNORE_SIGTERM=1 to make it ignore SIGTERM (the proxy must SIGKILL).
`journal` returns every message it was sent (method, tool name, id), `ask`
sends requests of its own to the client (in rounds, with progress between
them if asked) and returns the answers, `answers` every answer it got to such
a request, `client` the params of the `initialize` it was sent, `progress`
reports progress under the request's token, and `region` declares an
`x-mcp-header` argument (an `Mcp-Param-Region` header).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LOCK = threading.Lock()
CANCELLED: list[object] = []
JOURNAL: list[object] = []
ANSWERS: dict[str, dict] = {}
ANSWER_LOG: list[dict] = []
ANSWERED = threading.Condition()
INITIALIZE: dict = {}
TOOLS = [
    "cancelled",
    "whoami",
    "echo",
    "crash",
    "garbage",
    "sleep",
    "grandchild",
    "environment",
    "notify",
    "journal",
    "ask",
    "answers",
    "client",
    "progress",
]
SCHEMAS = {
    "region": {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
    },
}


def write(obj: object) -> None:
    with LOCK:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def write_raw(text: str) -> None:
    with LOCK:
        sys.stdout.write(text)
        sys.stdout.flush()


def reply(request_id: object, result: object) -> None:
    write({"jsonrpc": "2.0", "id": request_id, "result": result, "x-peer-extra": {"kept": True}})


def text(request_id: object, value: str) -> None:
    reply(request_id, {"content": [{"type": "text", "text": value}], "isError": False})


def call_tool(request_id: object, request: dict, raw: str) -> None:
    params = request.get("params", {})
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "whoami":
        text(request_id, str(os.getpid()))
    elif name == "echo":
        text(request_id, raw)
    elif name == "crash":
        sys.stderr.write("peer: crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)
    elif name == "garbage":
        write_raw("this is not json\n{broken\n42\n\n")
        text(request_id, "still here")
    elif name == "sleep":
        seconds = float(args.get("seconds", 1))

        def later() -> None:
            time.sleep(seconds)
            text(request_id, f"slept {seconds}")

        threading.Thread(target=later, daemon=True).start()
    elif name == "crash_leaving_grandchild":
        subprocess.Popen(["sleep", "300"])  # inherits stdout: the pipe stays open
        os._exit(4)
    elif name == "huge":
        text(request_id, "x" * int(args.get("size", 5_000_000)))
    elif name == "stop_reading":
        text(request_id, "no longer reading stdin")
        while True:
            time.sleep(1)
    elif name == "cancelled":
        text(request_id, json.dumps(CANCELLED))
    elif name == "grandchild":
        child = subprocess.Popen(["sleep", "300"])
        text(request_id, str(child.pid))
    elif name == "environment":
        text(
            request_id,
            json.dumps({"cwd": str(Path.cwd()), "PEER_MARK": os.environ.get("PEER_MARK")}),
        )
    elif name == "journal":
        text(request_id, json.dumps(JOURNAL))
    elif name == "region":
        text(request_id, f"region {args.get('region')}")
    elif name == "ask":
        token = (params.get("_meta") or {}).get("progressToken")
        rounds = args.get("asks") or [[{"method": args.get("method", "sampling/createMessage")}]]
        if "params" in args:
            rounds[0][0]["params"] = args["params"]

        def progress(step: int) -> None:
            if token is not None and args.get("progress"):
                write(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": step, "message": "ask"},
                    }
                )

        def ask() -> None:
            answers = []
            for number, asks in enumerate(rounds):
                progress(number + 1)
                ids = [f"peer-ask-{request_id}-{number}-{n}" for n in range(len(asks))]
                lines = [
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": asked_id,
                            "method": one.get("method"),
                            "params": one.get("params", {}),
                        }
                    )
                    for asked_id, one in zip(ids, asks, strict=True)
                ]
                write_raw("".join(line + "\n" for line in lines))  # one write: one round
                with ANSWERED:
                    ANSWERED.wait_for(lambda ids=ids: all(i in ANSWERS for i in ids), timeout=60)
                    answers.extend(ANSWERS.pop(i, None) for i in ids)
            progress(len(rounds) + 1)
            text(request_id, json.dumps(answers))

        threading.Thread(target=ask, daemon=True).start()
    elif name == "answers":
        with ANSWERED:
            text(request_id, json.dumps(ANSWER_LOG))
    elif name == "client":
        text(request_id, json.dumps(INITIALIZE))
    elif name == "progress":
        token = (params.get("_meta") or {}).get("progressToken")
        steps = int(args.get("steps", 3))
        for step in range(1, steps + 1):
            if token is not None:
                write(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {
                            "progressToken": token,
                            "progress": step,
                            "total": steps,
                            "message": str(args.get("tag", "")),
                        },
                    }
                )
        text(request_id, json.dumps({"tag": args.get("tag"), "token": token}))
    elif name == "notify":
        write(
            {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": "hello from the peer"},
            }
        )
        write({"jsonrpc": "2.0", "method": "x-future/notification", "params": {"n": 1}})
        text(request_id, "notified")
    else:
        write(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": -32602, "message": f"unknown tool {name}"},
            }
        )


def handle(raw: str) -> None:
    request = json.loads(raw)
    if isinstance(request, list):
        for item in request:
            handle(json.dumps(item))
        return
    method = request.get("method")
    request_id = request.get("id")
    params = request.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    JOURNAL.append({"method": method, "name": name, "id": request_id})
    if method == "notifications/cancelled":
        CANCELLED.append(request["params"]["requestId"])
    if method is None and isinstance(request_id, str):
        with ANSWERED:  # an answer to a request of ours (`ask`)
            ANSWERS[request_id] = request
            ANSWER_LOG.append(request)
            ANSWERED.notify_all()
        return
    if method is None or "id" not in request:
        return  # notifications, and answers nobody asked for
    if method == "initialize":
        INITIALIZE.update(request["params"])
        reply(
            request_id,
            {
                "protocolVersion": request["params"]["protocolVersion"],
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "stdio-peer", "version": "1.0"},
                "x-future-field": "survives",
            },
        )
    elif method == "tools/list":
        tools = [{"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]
        tools += [{"name": n, "inputSchema": schema} for n, schema in SCHEMAS.items()]
        reply(request_id, {"tools": tools})
    elif method == "tools/call":
        call_tool(request_id, request, raw)
    elif method == "ping":
        reply(request_id, {})
    else:
        reply(request_id, {"method": method, "request": request})


def main() -> None:
    stubborn = os.environ.get("PEER_IGNORE_SIGTERM") == "1"
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin:
        if line.strip():
            try:
                handle(line.strip())
            except Exception as exc:  # hostile input must not end the session
                sys.stderr.write(f"peer: cannot handle {line.strip()[:80]!r}: {exc!r}\n")
                sys.stderr.flush()
                request = json.loads(line) if line.strip().startswith("{") else None
                if isinstance(request, dict) and "id" in request:
                    write(
                        {
                            "jsonrpc": "2.0",
                            "id": request["id"],
                            "error": {"code": -32603, "message": repr(exc)},
                        }
                    )
    while stubborn:  # not even a closed stdin ends it
        time.sleep(1)


if __name__ == "__main__":
    main()
