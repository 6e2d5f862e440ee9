"""The stand-ins for the serving controllers whose source is not served here, Seldon Core v1's
and KServe's, as one process (the platform chart's `seldon-controller`): each second each lists
what it serves and brings its model server Pods to it. ADR 0032 and ADR 0033.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubernetes import config
from kubernetes.client.exceptions import ApiException

from paved_local.kserve.controller import KServeController
from paved_local.kserve.manifests import MANAGED_BY as KSERVE
from paved_local.seldon.children import Children
from paved_local.seldon.controller import PERIOD_SECONDS, SeldonController
from paved_local.seldon.manifests import MANAGED_BY as SELDON
from paved_local.seldon.manifests import ModelServer

log = logging.getLogger("paved_local.stand_ins")


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:  # probes every few seconds: not worth a line
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paved_local.stand_ins", description=__doc__)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--model-server-image", required=True)
    parser.add_argument("--env-secret", default="seldon-init-container-secret")
    parser.add_argument("--pull-policy", default="IfNotPresent")
    parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    health = ThreadingHTTPServer(("0.0.0.0", arguments.port), _Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()
    server = ModelServer(arguments.model_server_image, arguments.env_secret, arguments.pull_policy)
    api = config.new_client_from_config(arguments.kubeconfig)
    controllers = (
        SeldonController(Children(api, SELDON["app.kubernetes.io/managed-by"]), server),
        KServeController(Children(api, KSERVE["app.kubernetes.io/managed-by"]), server),
    )
    while True:
        for controller in controllers:
            try:
                controller.reconcile_all()
            except ApiException as error:
                log.warning(
                    "%s: listing what it serves: %s", type(controller).__name__, error.reason
                )
        time.sleep(PERIOD_SECONDS)


if __name__ == "__main__":
    main()
