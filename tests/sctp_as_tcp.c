/*
 * LD_PRELOAD shim for tests: SCTP sockets become TCP sockets.
 *
 * OsmoMSC opens an SCTP listener for SGs (and an SCTP client for M3UA) at start and exits when
 * the kernel has no SCTP, as in many containers. The SMPP contract tests use neither; they only
 * need OsmoMSC to start. Options set at the SCTP level are accepted and ignored, except the
 * bind of sctp_bindx(), which becomes a plain bind() of the first address.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define SCTP_OPTION_LEVEL 132 /* SOL_SCTP */
#define SCTP_SOCKOPT_BINDX_ADD 100

typedef int (*socket_fn)(int, int, int);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

int socket(int domain, int type, int protocol)
{
	socket_fn real_socket = (socket_fn)dlsym(RTLD_NEXT, "socket");
	if (protocol == IPPROTO_SCTP)
		return real_socket(domain, SOCK_STREAM | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
	return real_socket(domain, type, protocol);
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t length)
{
	setsockopt_fn real_setsockopt = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
	if (level != SCTP_OPTION_LEVEL)
		return real_setsockopt(fd, level, name, value, length);
	if (name == SCTP_SOCKOPT_BINDX_ADD && value != NULL) {
		const struct sockaddr *first = value;
		socklen_t size = first->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							     : sizeof(struct sockaddr_in);
		return bind(fd, first, size);
	}
	return 0;
}

int getsockopt(int fd, int level, int name, void *value, socklen_t *length)
{
	getsockopt_fn real_getsockopt = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	if (level != SCTP_OPTION_LEVEL)
		return real_getsockopt(fd, level, name, value, length);
	if (value != NULL && length != NULL)
		memset(value, 0, *length);
	return 0;
}
