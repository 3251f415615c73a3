// Command loadtest is the bounded load test of the local API (`make
// bench-api`): it starts `orrery serve` as a child process on 127.0.0.1 in a
// fresh home directory and has -concurrency clients GET a training job's
// status over keep-alive connections, half of -duration on a RUNNING job
// (seeded in the store before the server starts: every answer reads the
// store and encodes the status) and half on a SUCCEEDED one (trained through
// the API on the bundled HTRU2 data: its record is final, so the answer
// comes from memory). It prints throughput and latency percentiles of each
// phase against the target (>= 10,000 requests/s with p99 < 5 ms on a
// 2-core machine, client included) and the machine's load average, since other work on the
// same cores skews the figures.
//
// It is a benchmark program, not part of the library; it writes only under
// its temporary home directory. It must not import the AWS SDK,
// aws-lambda-go or functions/....
package main
