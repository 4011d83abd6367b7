"""``python -m tunefw.cluster.ray_node start ...``: Ray's ``ray start``, kept on 127.0.0.1.

``ray start`` replaces a loopback ``--node-ip-address`` by the machine's network address, and
refuses worker nodes when multi-node support is off (the switch that keeps addresses on the
loopback). This keeps the loopback address for the node, then turns the switch off for the
node's own processes, so they, and Ray jobs' drivers started on it, resolve 127.0.0.1 to
themselves.
"""

from __future__ import annotations

import os
import sys

#: Ray's multi-node switch (``tunefw.running.ray_connection.MULTI_NODE_ENV``), named here without
#: importing anything that imports ray: ray reads it at import.
MULTI_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def main() -> None:
    os.environ[MULTI_NODE_ENV] = "1"  # read at import: ray start then accepts worker nodes
    from ray.scripts.scripts import cli

    from tunefw import compat

    compat.keep_loopback_node_ip()
    os.environ[MULTI_NODE_ENV] = "0"  # for the node's processes and jobs' drivers
    cli.main(args=sys.argv[1:], prog_name="ray")


if __name__ == "__main__":
    main()
