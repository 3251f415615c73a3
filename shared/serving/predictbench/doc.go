// Command predictbench is the latency benchmark of the embedded endpoint
// (`make bench-predict`): it trains the default MLP on the bundled HTRU2
// data through the training machine into a fresh home directory, routes an
// endpoint to it (as a deployment leaves it), starts `orrery serve` on
// 127.0.0.1 as a child process and has -concurrency clients POST
// -rows-row predict requests (instances by feature name, real HTRU2 rows)
// over keep-alive connections for -duration. It prints p50/p90/p99
// latency, throughput in requests and rows per second, the server's own
// traffic figures for the version (GET /ml/endpoints/{endpoint}), and the
// verdict against the target (p99 under 10 ms for 100 rows), with the
// machine's load average, since other work on the same cores skews the
// figures.
//
// It is a benchmark program, not part of the library; it writes only under
// its temporary home directory.
//
// It must not import the AWS SDK.
package main
