/*
 * resolve: the C library's resolver, as a workload uses it. Built twice by
 * the client matrix test: with gcc (glibc) and with musl-gcc -static (musl).
 *
 * Arguments are triples ID OP NAME; OP is gai (getaddrinfo, any family),
 * gai4, gai6 (one family), srv or txt (res_query). One JSON line per triple
 * on standard output:
 *   {"id":ID,"ok":true,"values":[...],"ms":N}
 *   {"id":ID,"ok":false,"notfound":true,"err":"...","ms":N}
 * Addresses are printed as inet_ntop gives them; SRV as "PRIO WEIGHT PORT
 * TARGET"; TXT one value per record, its strings joined with \x1f. The
 * res_query lines also carry "tc", the TC bit of the answer it returned
 * (musl 1.2.3 hands the truncated UDP answer to the caller instead of
 * retrying over TCP). notfound: EAI_NONAME, or HOST_NOT_FOUND (NXDOMAIN).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void json_string(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static long since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void begin(const char *id)
{
	printf("{\"id\":");
	json_string(id, strlen(id));
}

static void fail(const char *id, int notfound, const char *err, const struct timespec *start)
{
	begin(id);
	printf(",\"ok\":false,\"notfound\":%s,\"err\":", notfound ? "true" : "false");
	json_string(err, strlen(err));
	printf(",\"ms\":%ld}\n", since(start));
}

static void lookup_addrs(const char *id, int family, const char *name)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	struct addrinfo hints, *res, *ai;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		fail(id, rc == EAI_NONAME, gai_strerror(rc), &start);
		return;
	}
	begin(id);
	printf(",\"ok\":true,\"values\":[");
	for (ai = res; ai; ai = ai->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a = ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		inet_ntop(ai->ai_family, a, buf, sizeof buf);
		if (ai != res)
			putchar(',');
		json_string(buf, strlen(buf));
	}
	printf("],\"ms\":%ld}\n", since(&start));
	freeaddrinfo(res);
}

/* A DNS message read by hand: both libcs have res_query and dn_expand, not
 * both the same ns_* parsing helpers. */
static void lookup_records(const char *id, int type, const char *name)
{
	static unsigned char msg[65536];
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int n = res_query(name, C_IN, type, msg, sizeof msg);
	if (n < 0) {
		const char *err = h_errno == HOST_NOT_FOUND ? "HOST_NOT_FOUND"
			: h_errno == NO_DATA ? "NO_DATA"
			: h_errno == TRY_AGAIN ? "TRY_AGAIN" : "NO_RECOVERY";
		fail(id, h_errno == HOST_NOT_FOUND, err, &start);
		return;
	}
	if (n > (int)sizeof msg)
		n = sizeof msg;
	const unsigned char *end = msg + n, *p = msg + 12;
	int qd = msg[4] << 8 | msg[5], an = msg[6] << 8 | msg[7], tc = (msg[2] & 0x02) != 0;
	char dname[NS_MAXDNAME];
	int first = 1, len;
	begin(id);
	printf(",\"ok\":true,\"values\":[");
	while (qd-- > 0 && p < end) {
		if ((len = dn_expand(msg, end, p, dname, sizeof dname)) < 0)
			goto done;
		p += len + 4;
	}
	while (an-- > 0 && p < end) {
		if ((len = dn_expand(msg, end, p, dname, sizeof dname)) < 0 || p + len + 10 > end)
			break;
		p += len;
		int rtype = p[0] << 8 | p[1], rdlen = p[8] << 8 | p[9];
		p += 10;
		if (p + rdlen > end)
			break;
		if (rtype == type && type == T_SRV && rdlen > 6) {
			if (dn_expand(msg, end, p + 6, dname, sizeof dname) < 0)
				break;
			printf("%s\"%d %d %d %s\"", first ? "" : ",", p[0] << 8 | p[1], p[2] << 8 | p[3], p[4] << 8 | p[5], dname);
			first = 0;
		} else if (rtype == type && type == T_TXT) {
			char txt[65536];
			size_t t = 0;
			for (const unsigned char *s = p; s < p + rdlen && s + 1 + *s <= p + rdlen; s += 1 + *s) {
				if (s != p)
					txt[t++] = 0x1f;
				memcpy(txt + t, s + 1, *s);
				t += *s;
			}
			if (!first)
				putchar(',');
			json_string(txt, t);
			first = 0;
		}
		p += rdlen;
	}
done:
	printf("],\"tc\":%s,\"ms\":%ld}\n", tc ? "true" : "false", since(&start));
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 2 < argc; i += 3) {
		const char *id = argv[i], *op = argv[i + 1], *name = argv[i + 2];
		if (!strcmp(op, "gai"))
			lookup_addrs(id, AF_UNSPEC, name);
		else if (!strcmp(op, "gai4"))
			lookup_addrs(id, AF_INET, name);
		else if (!strcmp(op, "gai6"))
			lookup_addrs(id, AF_INET6, name);
		else if (!strcmp(op, "srv"))
			lookup_records(id, T_SRV, name);
		else if (!strcmp(op, "txt"))
			lookup_records(id, T_TXT, name);
		else {
			fprintf(stderr, "resolve: unknown op %s\n", op);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
