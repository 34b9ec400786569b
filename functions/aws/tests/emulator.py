"""Starts moto's AWS emulator on a free loopback port for the AWS adapter tests.

Prints the endpoint URL on its first line, then serves until standard input closes, so the
emulator ends with the test process that started it, however that process ends.

Requests are served one at a time. moto's backends are not thread-safe: served concurrently, a
conditional write can race another and a cancelled transaction can undo a concurrent commit,
which DynamoDB never does. Serialized, each request is atomic, as on AWS.
"""
import sys
import threading

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


def main() -> None:
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
