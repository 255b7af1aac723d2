"""The images' HEALTHCHECK: GET one loopback URL, healthy only on 200.

Usage (exec form, so no shell): healthcheck.py 'http://127.0.0.1:${MCP_ECHO_PORT}/health'.
`${NAME}` is taken from the container's environment, so the check follows the port
the service was configured with. It asks `/health` only, never MCP (an `initialize`
every 30 s would start a session, or a child process behind the proxy).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: healthcheck.py URL", file=sys.stderr)
        return 2
    url = os.path.expandvars(argv[1])
    if not url.startswith("http://127.0.0.1:"):
        print(f"refusing {url!r}: only a loopback http URL is checked", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 (checked above)
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
