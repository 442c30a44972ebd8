"""Testing helpers: a test client, a live server, and contract tests.

::

    from bocadillo.testing import contract_test, create_client

    test_contract = contract_test(app)            # schemathesis + WebSocket fuzzing

    def test_api():
        with create_client(app) as client:       # runs start-up and shutdown
            assert client.get("/rooms").status_code == 200

Install the ``testing`` extra (``pip install 'bocadillo[testing]'``): the
client needs ``httpx2``, as Starlette's test client does; ``contract_test``
needs ``schemathesis``; ``fuzz_websockets`` needs ``hypothesis`` and
``jsonschema``.
"""

from bocadillo.providers import isolated_providers
from bocadillo.testing.client import Client, create_client
from bocadillo.testing.contract import ContractFailure, ContractReport, contract_test, run_contract
from bocadillo.testing.fuzz import fuzz_websockets
from bocadillo.testing.live import LiveServer
from bocadillo.testing.sse_client import EventStream, ServerSentEvent

__all__ = [
    "Client",
    "ContractFailure",
    "ContractReport",
    "EventStream",
    "LiveServer",
    "ServerSentEvent",
    "contract_test",
    "create_client",
    "fuzz_websockets",
    "isolated_providers",
    "run_contract",
]
