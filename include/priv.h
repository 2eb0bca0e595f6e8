/*
 * priv.c: the daemon's short root-only start (directories, pid file),
 * the drop to the configured user, and the private database state both
 * programs keep.  The start-up functions return 0 or a sysexits code
 * with a message in err.
 */
#ifndef MAILABUSE_PRIV_H
#define MAILABUSE_PRIV_H

#include <stddef.h>
#include <sys/types.h>

int priv_user_init(const char *name, char *err, size_t errlen);
const char *priv_user_name(void);
uid_t priv_uid(void);
int priv_is_root(void);

int priv_rundir_make(const char *dir, char *err, size_t errlen);
int priv_db_prepare(const char *dbpath, char *err, size_t errlen);

int priv_pidfile_open(const char *path, int *fdp, char *err, size_t errlen);
int priv_pidfile_write(int fd, char *err, size_t errlen);
void priv_pidfile_remove(int fd, const char *path);

int priv_drop(char *err, size_t errlen);

#define PRIV_BACKGROUND_NICE 10
void priv_background(void);

#endif
