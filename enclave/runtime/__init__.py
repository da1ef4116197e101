"""The enclave runtime: host/enclave messages, `Enclave.handle`, lifecycle, join, node-to-node channels."""
