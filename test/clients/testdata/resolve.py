"""Python's resolvers as a workload uses them, for the client matrix test.

Run with the system interpreter (/usr/bin/python3 -I). Arguments are
triples ID OP NAME; OP is gai, gai4, gai6 (socket.getaddrinfo: the C
library's resolver) or dp-host (A and AAAA), dp-a, dp-aaaa, dp-srv, dp-txt
(dnspython, from python3-dnspython, imported only when asked for).
One JSON line per triple on standard output; TXT is one value per record,
its strings joined with \x1f.
"""

import json
import socket
import sys
import time

FAMILIES = {"gai": socket.AF_UNSPEC, "gai4": socket.AF_INET, "gai6": socket.AF_INET6}
RDTYPES = {"dp-a": "A", "dp-aaaa": "AAAA", "dp-srv": "SRV", "dp-txt": "TXT"}


def gai(op, name):
    infos = socket.getaddrinfo(name, None, FAMILIES[op], socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def dnspython(op, name):
    import dns.resolver

    resolver = dns.resolver.Resolver()
    if op == "dp-host":
        # A and AAAA, as resolve_name of newer dnspython releases does: a
        # family without records is no error, NXDOMAIN is.
        addrs = []
        for rdtype in ("A", "AAAA"):
            try:
                addrs += [r.address for r in resolver.resolve(name, rdtype, search=True)]
            except dns.resolver.NoAnswer:
                pass
        return addrs
    answer = resolver.resolve(name, RDTYPES[op], search=True)
    if op == "dp-srv":
        return ["%d %d %d %s" % (r.priority, r.weight, r.port, r.target.to_text()) for r in answer]
    if op == "dp-txt":
        return ["\x1f".join(s.decode() for s in r.strings) for r in answer]
    return [r.address for r in answer]


def not_found(err):
    if isinstance(err, socket.gaierror):
        return err.errno == socket.EAI_NONAME
    try:
        import dns.resolver
    except ImportError:
        return False
    return isinstance(err, dns.resolver.NXDOMAIN)


def main(args):
    for i in range(0, len(args) - 2, 3):
        ident, op, name = args[i : i + 3]
        if op not in FAMILIES and op != "dp-host" and op not in RDTYPES:
            sys.exit("resolve.py: unknown op " + op)
        start = time.monotonic()
        res = {"id": ident}
        try:
            res["values"] = gai(op, name) if op in FAMILIES else dnspython(op, name)
            res["ok"] = True
        except Exception as err:  # every failure is a result of the cell
            res.update(ok=False, notfound=not_found(err), err="%s: %s" % (type(err).__name__, err))
        res["ms"] = int((time.monotonic() - start) * 1000)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
