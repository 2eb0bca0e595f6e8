/* sockdiag.c: which local uid owns a TCP connection (NETLINK_SOCK_DIAG, /proc/net/tcp). */
#ifndef MAILABUSE_SOCKDIAG_H
#define MAILABUSE_SOCKDIAG_H

#include <stddef.h>

int sockdiag_owner(const char *client_ip, unsigned client_port, const char *server_ip,
    unsigned server_port, unsigned long *uid, char *err, size_t errlen);
int sockdiag_netlink_owner(const char *client_ip, unsigned client_port,
    const char *server_ip, unsigned server_port, unsigned long *uid, char *err,
    size_t errlen);
int sockdiag_proc_owner(const char *client_ip, unsigned client_port, const char *server_ip,
    unsigned server_port, unsigned long *uid, char *err, size_t errlen);
void sockdiag_close(void);

#endif
