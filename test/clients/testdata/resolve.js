// Node's resolvers as a workload uses them, for the client matrix test.
//
// Arguments are triples ID OP NAME; OP is lookup, lookup4, lookup6
// (dns.lookup: the C library's getaddrinfo) or cares-host (resolve4 and
// resolve6), resolve4, resolve6, resolveSrv, resolveTxt (c-ares, Node's own
// DNS client). One JSON line per triple on standard output; TXT is one
// value per record, its strings joined with \x1f.
'use strict';

const dns = require('node:dns');

const families = { lookup: 0, lookup4: 4, lookup6: 6 };

async function cares(resolver, op, name) {
  switch (op) {
    case 'cares-host': {
      // A and AAAA, as dns.lookup asks: a family without records is no
      // error, a name that does not exist is.
      const out = [];
      for (const rr of ['resolve4', 'resolve6']) {
        try {
          out.push(...(await resolver[rr](name)));
        } catch (err) {
          if (err.code !== dns.NODATA) throw err;
        }
      }
      return out;
    }
    case 'resolve4':
    case 'resolve6':
      return resolver[op](name);
    case 'resolveSrv':
      return (await resolver.resolveSrv(name)).map((s) => `${s.priority} ${s.weight} ${s.port} ${s.name}`);
    case 'resolveTxt':
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('\x1f'));
  }
  throw new Error(`resolve.js: unknown op ${op}`);
}

async function main(args) {
  const resolver = new dns.promises.Resolver();
  for (let i = 0; i + 2 < args.length; i += 3) {
    const [id, op, name] = args.slice(i, i + 3);
    const start = process.hrtime.bigint();
    const res = { id };
    try {
      if (op in families) {
        const addrs = await dns.promises.lookup(name, { all: true, family: families[op] });
        res.values = addrs.map((a) => a.address);
      } else {
        res.values = await cares(resolver, op, name);
      }
      res.ok = true;
    } catch (err) {
      if (!err.code) throw err;
      res.ok = false;
      res.notfound = err.code === dns.NOTFOUND;
      res.err = `${err.code}: ${err.message}`;
    }
    res.ms = Number((process.hrtime.bigint() - start) / 1000000n);
    console.log(JSON.stringify(res));
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
