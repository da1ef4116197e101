"""`sealchain bench` (`scripts/bench`): throughput and latency of a local network, side by side with etcd.

- `workloads`: what one simulated client does (KV puts, KV gets, SmallBank) and what it must check after.
- `targets`: the systems under test as the load generator sees them (sealchain over its gRPC client API,
  etcd over its own gRPC KV API), both asyncio over `grpc.aio`.
- `etcd_smallbank`: SmallBank's procedures run by an etcd client, read then compare-and-swap.
- `loadgen`: client processes, each an asyncio loop with many outstanding requests; latencies and CPU.
- `systems`: starting and stopping a fresh sealchain network and a fresh 3-member etcd cluster.
- `figures`: percentiles and the per-run summary; `report`: the table and the JSON file.
- `runner`: the plan (workloads x concurrencies x systems, interleaved) and the progress bar.
"""
