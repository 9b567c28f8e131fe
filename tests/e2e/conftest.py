"""pytest fixtures for chappe's end-to-end suite.

- `server`: the shared server of the current test module (open
  registration, generous rate limits, cheap argon2). Started once per
  module; after each test it must still be running, so a crash is blamed on
  the test that caused it. At module teardown it is stopped with SIGTERM and
  must exit 0 with no sanitizer report on stderr.
- `make_server(**config_overrides)`: a private server for tests that need
  their own configuration (rate limits, closed registration, restarts).
  Stopped and checked the same way when the test ends.
- The suite is skipped as a whole when the binary (CHAPPE_BIN, default
  build/src/chappe) does not exist yet.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/e2e
"""

import os

import pytest

from chappe_e2e import CHAPPE_BIN, ChappeServer, base_config, free_port


def pytest_collection_modifyitems(config, items):
    if not os.access(CHAPPE_BIN, os.X_OK):
        skip = pytest.mark.skip(reason=f"chappe binary not built: {CHAPPE_BIN}")
        for item in items:
            item.add_marker(skip)


def _finish(srv):
    problems = srv.stop()
    if problems:
        pytest.fail("server shutdown not clean: " + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    port = free_port()
    srv = ChappeServer(tmp_path_factory.mktemp("chappe"), base_config(port), port)
    srv.start()
    yield srv
    _finish(srv)


@pytest.fixture
def server(module_server):
    if not module_server.alive():
        pytest.fail("the module's chappe server died in an earlier test", pytrace=False)
    yield module_server
    if not module_server.alive():
        pytest.fail(f"chappe died during this test:\n{module_server.stderr_tail()}",
                    pytrace=False)


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(**overrides) -> started ChappeServer.
    make_server(start=False, ...) returns it unstarted."""
    servers = []

    def factory(start=True, **overrides):
        port = free_port()
        srv = ChappeServer(tmp_path / f"srv{len(servers)}", base_config(port, **overrides), port)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    problems = []
    for srv in servers:
        problems += srv.stop()
    if problems:
        pytest.fail("server shutdown not clean: " + "\n".join(problems), pytrace=False)
