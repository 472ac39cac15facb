#!/usr/bin/env python3
"""The SAM CLI, with `--docker-network host` that works.

    scripts/tools.sh sam python3 scripts/sam_host_network.py local start-api --docker-network host ...

Arguments are the `sam` command's own. Without `--docker-network host` this is plain `sam`.

SAM CLI 1.170 treats the network name `host` as "join no extra network": the container still
gets Docker's default network, and SAM reaches the function's Runtime Interface Emulator (RIE)
through the RIE's port 8080 published on a random loopback port. On a Docker daemon started
without a bridge (`dockerd --bridge=none`, so that nothing leaves 127.0.0.1), there is no
default network to publish from (aws-sam-cli#4236, whose fix #7278 was not merged; #6347: on the
host network every RIE would take port 8080). With `host`, this launcher
runs each container in the host's network namespace and tells its RIE to listen on the port
SAM picked for it (and its Runtime API on another free loopback port), so functions run side
by side, reach DynamoDB Local on 127.0.0.1, and SAM reaches them where it expects. Everything
else is SAM's own code, pinned in scripts/tools.sh (see docs/decisions/0005-sam-local.md).
"""

import sys

from docker.models import containers as docker_containers
from samcli.local.docker import container
from samcli.local.docker.utils import find_free_port

_create = container.Container.create
_container_args = docker_containers._create_container_args


def _create_on_host_network(self, context):
    if self.network_id == "host":
        self._container_opts = {**(self._container_opts or {}), "network_mode": "host"}
        runtime_api_port = find_free_port(network_interface="127.0.0.1", start=9002, end=12000)
        self._entrypoint = list(self._entrypoint or []) + [
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.rapid_port_host}",
            "--runtime-api-address",
            f"127.0.0.1:{runtime_api_port}",
        ]
    return _create(self, context)


def _container_args_on_host_network(kwargs):
    # Docker refuses published ports on the host network; the RIE listens on SAM's port itself.
    if kwargs.get("network_mode") == "host":
        kwargs.pop("ports", None)
    return _container_args(kwargs)


container.Container.create = _create_on_host_network
docker_containers._create_container_args = _container_args_on_host_network

if __name__ == "__main__":
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    sys.exit(cli())
