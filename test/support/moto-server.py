"""moto_server for the tests, with two of its lookups done once instead of on every request.

Usage: python3 test/support/moto-server.py -H 127.0.0.1 -p PORT   (the same arguments as moto_server)

This is moto's own server (moto.server.main), unchanged in what it answers. Profiled under the test suite
(cProfile per request thread), moto 5.2.1 spent most of its time outside the AWS APIs it emulates:
  - moto.backends.list_of_moto_modules() lists moto's package folder and stats each of its ~170 entries, and the
    server calls it under a lock once or twice per request: ~200 stat calls per request, about half of moto's CPU.
    The folder does not change while the server runs, so it is listed once here.
  - moto.core.utils.create_loader() makes a new botocore Loader for every service model it loads, so botocore's
    per-loader cache never hits and each service's first request walks botocore's data folder again (~0.4 s each).
    One Loader is shared here; it caches what it listed.
Request lines are not logged (werkzeug's INFO lines); warnings and errors still are.
"""
import logging
import sys

try:
    import moto.backends
    import moto.core.utils
    from moto.server import main
except ImportError as error:  # pragma: no cover - a set-up problem, reported to whoever starts the tests
    sys.exit(
        f"moto is not importable by {sys.executable} ({error}): install it with pip install 'moto[server]==5.2.1' "
        "for the python3 on PATH (the CI image has it)"
    )

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: iter(_MODULES)

_LOADER = moto.core.utils.create_loader()
moto.core.utils.create_loader = lambda: _LOADER

logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    main(sys.argv[1:])
