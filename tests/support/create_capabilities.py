#!/usr/bin/python3
"""Creates Capability resources in a test API server, fast (keep-alive connections, threads).

  create_capabilities.py --server http://127.0.0.1:PORT --count N [--prefix sh] [--namespace default]
                         [--interval 20] [--ttl 60] [--threads 4]

Capability NAME-<i> (i = 0..N-1, five digits) declares identifier chora.<prefix>.n<i>.
Prints "created N in S s" and exits 0, or prints the first error and exits 1.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="sh")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--interval", type=int, default=20)
    parser.add_argument("--ttl", type=int, default=60)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.server)
    path = f"/apis/chora.dev/v1alpha1/namespaces/{args.namespace}/capabilities"
    errors = []

    def worker(indices):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        try:
            for i in indices:
                if errors:
                    return
                body = json.dumps({
                    "apiVersion": "chora.dev/v1alpha1", "kind": "Capability",
                    "metadata": {"name": f"{args.prefix}-{i:05d}", "namespace": args.namespace},
                    "spec": {"identifier": f"chora.{args.prefix}.n{i}", "type": "Service",
                             "heartbeat": {"intervalSeconds": args.interval,
                                           "ttlSeconds": args.ttl}}})
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                text = r.read()
                if r.status != 201:
                    errors.append(f"POST {args.prefix}-{i:05d}: {r.status} {text[:200]!r}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"POST failed: {e}")
        finally:
            conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(range(t, args.count, args.threads),))
               for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(errors[0])
        return 1
    print(f"created {args.count} in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
