// Java's resolvers as a workload uses them, for the client matrix test.
//
// Arguments are triples ID OP NAME; OP is inet (InetAddress.getAllByName:
// the C library's getaddrinfo), inet4, inet6 (the same, the addresses of
// one family kept) or jndi-srv, jndi-txt (JNDI's DNS provider,
// com.sun.jndi.dns.DnsContextFactory, with the servers of
// /etc/resolv.conf). One JSON line per triple on standard output.

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.directory.Attribute;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

public class Resolve {
    static List<String> inet(String op, String name) throws Exception {
        List<String> out = new ArrayList<>();
        for (InetAddress a : InetAddress.getAllByName(name)) {
            if (op.equals("inet4") && !(a instanceof Inet4Address)) continue;
            if (op.equals("inet6") && !(a instanceof Inet6Address)) continue;
            out.add(a.getHostAddress());
        }
        return out;
    }

    static List<String> jndi(DirContext ctx, String type, String name) throws Exception {
        List<String> out = new ArrayList<>();
        Attribute attr = ctx.getAttributes(name, new String[] {type}).get(type);
        if (attr == null) return out;
        NamingEnumeration<?> values = attr.getAll();
        while (values.hasMore()) out.add(values.next().toString());
        return out;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        Hashtable<String, String> env = new Hashtable<>();
        env.put("java.naming.factory.initial", "com.sun.jndi.dns.DnsContextFactory");
        env.put("java.naming.provider.url", "dns:");
        DirContext ctx = new InitialDirContext(env);
        for (int i = 0; i + 2 < args.length; i += 3) {
            String id = args[i], op = args[i + 1], name = args[i + 2];
            long start = System.nanoTime();
            StringBuilder line = new StringBuilder("{\"id\":" + quote(id));
            try {
                List<String> values;
                switch (op) {
                    case "inet": case "inet4": case "inet6": values = inet(op, name); break;
                    case "jndi-srv": values = jndi(ctx, "SRV", name); break;
                    case "jndi-txt": values = jndi(ctx, "TXT", name); break;
                    default: System.err.println("Resolve: unknown op " + op); System.exit(2); return;
                }
                line.append(",\"ok\":true,\"values\":[");
                for (int j = 0; j < values.size(); j++) line.append(j > 0 ? "," : "").append(quote(values.get(j)));
                line.append("]");
            } catch (UnknownHostException | javax.naming.NamingException e) {
                // getaddrinfo's EAI_NONAME (glibc's text), not EAI_AGAIN's
                // "Temporary failure in name resolution"; rcode 3 in JNDI.
                boolean notFound = e instanceof UnknownHostException
                        ? e.getMessage().contains("Name or service not known")
                        : e instanceof NameNotFoundException;
                line.append(",\"ok\":false,\"notfound\":" + notFound + ",\"err\":" + quote(e.toString()));
            }
            line.append(",\"ms\":" + (System.nanoTime() - start) / 1000000 + "}");
            System.out.println(line);
        }
    }
}
